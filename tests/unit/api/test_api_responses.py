"""Envelopes, JSON types, XML rendering and error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from pydantic import Field

from provisioner.api.responses import (
    USER_ERROR_MESSAGE,
    CsDateTime,
    ResponseModel,
    async_body,
    error_body,
    error_reply,
    format_date,
    header_safe,
    list_body,
    object_body,
    render,
)
from provisioner.api.settings import ApiSettings
from provisioner.exceptions import InsufficientCapacityError, InternalError, ParamError, ResourceInUseError


class Nic(ResponseModel):
    ipaddress: str = Field(description="ip")
    isdefault: bool = Field(description="default nic")


class Vm(ResponseModel):
    id: str = Field(description="id")
    memory: int = Field(description="MiB")
    displayname: str | None = Field(default=None, description="omitted when None")
    created: CsDateTime = Field(description="date")
    nic: list[Nic] = Field(description="nics")
    details: dict[str, str] = Field(default_factory=dict, description="details")


VM = Vm(id="v1", memory=512, created=datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        nic=[Nic(ipaddress="10.0.0.2", isdefault=True)], details={"a": "b"})  # fmt: skip


def test_bodies() -> None:
    assert list_body("virtualmachine", []) == {}
    assert list_body("virtualmachine", [VM], 7) == {
        "count": 7,
        "virtualmachine": [{"id": "v1", "memory": 512, "created": "2024-05-01T10:00:00+0000",
                            "nic": [{"ipaddress": "10.0.0.2", "isdefault": True}], "details": {"a": "b"}}],
    }  # fmt: skip
    assert object_body("virtualmachine", VM)["virtualmachine"]["memory"] == 512
    assert async_body("j") == {"jobid": "j"} and async_body("j", "e") == {"id": "e", "jobid": "j"}
    assert format_date(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05+0000"
    assert format_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05+0000"


def test_json_rendering() -> None:
    data, content_type = render("listvirtualmachinesresponse", list_body("virtualmachine", [VM]), "JSON",
                                ApiSettings())  # fmt: skip
    assert content_type == "application/json; charset=UTF-8"
    assert json.loads(data)["listvirtualmachinesresponse"]["count"] == 1


def test_xml_rendering_nests_and_escapes() -> None:
    body = {"count": 1, "virtualmachine": [{"id": "<&>", "nic": [{"isdefault": True}, {"isdefault": False}]}]}
    data, content_type = render("listvirtualmachinesresponse", body, "xml", ApiSettings(cloudstack_version="4.19"))
    assert content_type == "text/xml; charset=UTF-8"
    assert data.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><listvirtualmachinesresponse cloud-stack-version="4.19">'
        "<count>1</count><virtualmachine><id>&lt;&amp;&gt;</id><nic><isdefault>true</isdefault></nic>"
        "<nic><isdefault>false</isdefault></nic></virtualmachine></listvirtualmachinesresponse>"
    )


def test_error_bodies_hide_details_from_non_root() -> None:
    for error in (InternalError("db down"), InsufficientCapacityError("host h1 full"), ResourceInUseError("in use")):
        shown = error_body(error, show_details=True)
        hidden = error_body(error, show_details=False)
        assert shown["errortext"] == error.errortext
        assert hidden["errortext"] == (error.errortext if error.errorcode == 536 else USER_ERROR_MESSAGE)
    assert error_body(ParamError("bad"), show_details=False) == {
        "uuidList": [], "errorcode": 431, "cserrorcode": 4350, "errortext": "bad"
    }  # fmt: skip


def test_error_reply_status_header_and_envelope() -> None:
    answer = error_reply(None, ParamError("bad\nvalue ☁ \x00"), "json", ApiSettings(), show_details=True)
    assert answer.status == 431
    assert json.loads(answer.body)["errorresponse"]["errorcode"] == 431
    assert answer.headers["X-Description"] == "bad value ?"
    assert header_safe("a\tb\r\nc") == "a b c"
