"""The CloudStack client over a mock transport: signing, methods, paging, job polling, errors, credentials."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from provisioner.api.signing import verify_signature
from provisioner.client import ClientError, CloudStackClient, Credentials, JobTimeoutError, flatten
from provisioner.exceptions import ApiError, ParamError, ResourceInUseError, UnauthorizedError

URL = "http://127.0.0.1:9/client/api"
SECRET = "s3cr3t-key"
CREDENTIALS = Credentials(URL, "the-api-key", SECRET)
Handler = Callable[[str, dict[str, str]], tuple[int, dict[str, Any]]]


class Recorder:
    """A transport that checks every signature and answers through ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.url.query.decode())) | dict(parse_qsl(request.content.decode()))
        verify_signature(params, SECRET)  # the server's own check, with v3 expiry
        self.seen.append((request.method, params["command"], params))
        status, body = self.handler(params["command"], params)
        return httpx.Response(status, json=body)


def client_for(handler: Handler, **options: Any) -> tuple[CloudStackClient, Recorder]:
    recorder = Recorder(handler)
    options = {"poll_interval": 0.001, "max_poll_interval": 0.002} | options
    return CloudStackClient(CREDENTIALS, transport=httpx.MockTransport(recorder), **options), recorder


def test_reads_are_signed_gets_and_changes_signed_posts() -> None:
    def handler(command: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {f"{command.lower()}response": {"zone": {"id": "z1", "name": params.get("name", "")}}}

    client, seen = client_for(handler)
    client.request("listZones", name="a b~*")
    client.call("createZone", name="z", localstorageenabled=False, tags=["x", "y"])
    assert [(method, command) for method, command, _ in seen.seen] == [("GET", "listZones"), ("POST", "createZone")]
    sent = seen.seen[1][2]
    assert sent["signatureVersion"] == "3" and sent["expires"].endswith("+0000")
    assert sent["localstorageenabled"] == "false" and sent["tags"] == "x,y"


def test_list_all_pages_until_count() -> None:
    rows = [{"id": str(n)} for n in range(1203)]

    def handler(command: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        page, size = int(params["page"]), int(params["pagesize"])
        chunk = rows[(page - 1) * size : page * size]
        return 200, {"listhostsresponse": {"count": len(rows), "host": chunk} if chunk else {}}

    client, seen = client_for(handler)
    assert client.list_all("listHosts", type="Routing") == rows
    assert [params["page"] for _, _, params in seen.seen] == ["1", "2", "3"]
    assert {params["pagesize"] for _, _, params in seen.seen} == {"500"}


def test_an_empty_list_is_an_empty_answer() -> None:
    client, _ = client_for(lambda command, params: (200, {"listzonesresponse": {}}))
    assert client.list_all("listZones") == []


def test_async_jobs_are_polled_until_done() -> None:
    polls = iter([0, 0, 1])

    def handler(command: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if command == "addTrafficType":
            return 200, {"addtraffictyperesponse": {"jobid": "j1"}}
        status = next(polls)
        result = {"jobresult": {"traffictype": {"id": "t1"}}, "jobresultcode": 0} if status else {}
        return 200, {"queryasyncjobresultresponse": {"jobid": "j1", "jobstatus": status, **result}}

    client, seen = client_for(handler)
    assert client.call("addTrafficType", physicalnetworkid="p", traffictype="Guest") == {"traffictype": {"id": "t1"}}
    assert [command for _, command, _ in seen.seen].count("queryAsyncJobResult") == 3


def test_a_failed_job_raises_its_code_and_text() -> None:
    def handler(command: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if command == "deletePhysicalNetwork":
            return 200, {"deletephysicalnetworkresponse": {"jobid": "j2"}}
        failed = {"jobstatus": 2, "jobresultcode": 536, "jobresult": {"errorcode": 536, "errortext": "in use"}}
        return 200, {"queryasyncjobresultresponse": {"jobid": "j2", **failed}}

    client, _ = client_for(handler)
    with pytest.raises(ResourceInUseError, match="in use") as caught:
        client.call("deletePhysicalNetwork", id="p")
    assert caught.value.errorcode == 536


def test_job_waits_are_bounded() -> None:
    def handler(command: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if command == "updateZone":
            return 200, {"updatezoneresponse": {"jobid": "j3"}}
        return 200, {"queryasyncjobresultresponse": {"jobid": "j3", "jobstatus": 0}}

    client, _ = client_for(handler, job_timeout=0.05)
    with pytest.raises(JobTimeoutError, match="did not finish"):
        client.call("updateZone", id="z")


@pytest.mark.parametrize(
    ("code", "cserrorcode", "error"),
    [(431, 4350, ParamError), (401, 9999, UnauthorizedError), (536, 4375, ResourceInUseError), (599, 1, ApiError)],
)
def test_error_answers_become_api_errors(code: int, cserrorcode: int, error: type[ApiError]) -> None:
    body = {"createpodresponse": {"uuidList": [], "errorcode": code, "cserrorcode": cserrorcode, "errortext": "no"}}
    client, _ = client_for(lambda command, params: (code, body))
    with pytest.raises(error) as caught:
        client.call("createPod", name="p")
    assert (type(caught.value), caught.value.errorcode, caught.value.cserrorcode) == (error, code, cserrorcode)
    assert caught.value.errortext == "no"


def test_an_unreachable_server_is_a_client_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = CloudStackClient(CREDENTIALS, transport=httpx.MockTransport(refuse))
    with pytest.raises(ClientError, match="cannot reach"):
        client.request("listZones")


def test_flatten_writes_maps_as_indexed_pairs() -> None:
    assert flatten({"details": {"a": "1"}, "none": None, "empty": []}) == {
        "details[0].key": "a",
        "details[0].value": "1",
    }


def test_credentials_come_from_arguments_then_key_file_then_environment(tmp_path: Path) -> None:
    env = {"CLOUDSTACK_ENDPOINT": "http://cs", "CLOUDSTACK_KEY": "k-env", "PROVISIONER_SECRET_KEY": "s-env"}
    assert Credentials.resolve(env=env) == Credentials("http://cs", "k-env", "s-env")
    keys = tmp_path / "keys"
    keys.write_text("# admin\napikey = k-file\nsecretkey = s-file\n")
    assert Credentials.resolve("http://arg", key_file=keys, env=env) == Credentials("http://arg", "k-file", "s-file")
    keys.write_text(json.dumps({"apikey": "k-json", "secretkey": "s-json"}))
    assert Credentials.resolve(key_file=keys, env=env).secretkey == "s-json"
    assert "s-json" not in repr(Credentials.resolve(key_file=keys, env=env))
    with pytest.raises(ClientError, match="no API URL, API key, secret key given"):
        Credentials.resolve(env={})
