"""Parameter merging, map unpacking, conversion by CloudStack type, UUID checks and paging rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from provisioner.api.fields import BaseParams, param, param_specs
from provisioner.api.params import Page, merge_params, page_window, unpack, validate_params
from provisioner.exceptions import MalformedParameterError, ParamError

ZONE = "6a1f0f4e-1111-4222-8333-944455556666"


class Params(BaseParams):
    name: str = param("a name", required=True, length=8)
    count: int | None = param("a number")
    size: int | None = param("a size", type="long")
    enabled: bool | None = param("a flag")
    ratio: float | None = param("a ratio")
    zoneid: str | None = param("a zone", entity="Zone")
    zoneids: list[str] | None = param("zones", entity="Zone")
    tags: list[str] | None = param("words")
    details: list[dict[str, str]] | None = param("a map")
    startdate: datetime | None = param("a date")
    for_: str | None = param("a reserved word", alias="for")


def resolver(wanted: Mapping[str, list[str]]) -> dict[str, set[str]]:
    assert set(wanted) == {"Zone"}
    return {"Zone": {ZONE} & set(wanted["Zone"])}


def test_specs_infer_cloudstack_types() -> None:
    specs = {spec.name: spec for spec in param_specs(Params)}
    assert {name: spec.type for name, spec in specs.items()} == {
        "name": "string", "count": "integer", "size": "long", "enabled": "boolean", "ratio": "float",
        "zoneid": "uuid", "zoneids": "list", "tags": "list", "details": "map", "startdate": "date", "for": "string",
    }  # fmt: skip
    assert specs["zoneids"].element == "uuid" and specs["tags"].element == "string"
    assert specs["name"].required and specs["name"].length == 8 and not specs["count"].required


def test_merge_keeps_names_as_sent_and_get_wins() -> None:
    merged = merge_params([("command", "x"), ("Name", "q"), ("name", "again")], [("Name", "body"), ("other", "b")])
    assert merged == {"command": "x", "Name": "q", "name": "again", "other": "b"}


def test_unpack_lowercases_and_groups_maps_by_index() -> None:
    values = unpack({"NAME": "n", "details[1].Value": "b", "details[0].key": "k0", "details[1].key": "k1",
                     "details[0].value": "a"})  # fmt: skip
    assert values == {"name": "n", "details": [{"key": "k0", "value": "a"}, {"key": "k1", "value": "b"}]}


@pytest.mark.parametrize("name", ["details[x].key", "details[0]", "details]0[.key", "details[0].", "[0].key"])
def test_malformed_map_names(name: str) -> None:
    with pytest.raises(MalformedParameterError, match="Unable to decode parameter"):
        unpack({name: "v"})


def test_conversion_of_each_type() -> None:
    parsed = validate_params(
        "doIt",
        Params,
        unpack(
            {
                "name": "n",
                "count": "3",
                "size": "9000000000",
                "enabled": "TRUE",
                "ratio": "0.5",
                "zoneid": ZONE.upper(),
                "zoneids": f"{ZONE}, {ZONE}",
                "tags": "a,b,,c",
                "details[0].k": "v",
                "startdate": "2024-05-01",
                "for": "x",
            }
        ),
        resolver,
    )
    assert (parsed.count, parsed.size, parsed.enabled, parsed.ratio) == (3, 9_000_000_000, True, 0.5)
    assert parsed.zoneid == ZONE and parsed.zoneids == [ZONE, ZONE] and parsed.tags == ["a", "b", "c"]
    assert parsed.details == [{"k": "v"}] and parsed.startdate == datetime(2024, 5, 1) and parsed.for_ == "x"
    assert validate_params("doIt", Params, {"name": "n", "enabled": "yes"}).enabled is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01 10:20:30", datetime(2024, 5, 1, 10, 20, 30)),
        ("2024-05-01T10:20:30+0000", datetime(2024, 5, 1, 10, 20, 30)),
        ("2024-05-01T10:20:30 0000", datetime(2024, 5, 1, 10, 20, 30)),  # "+" left unencoded in a query string
        ("2024-05-01T12:20:30+0200", datetime(2024, 5, 1, 10, 20, 30)),  # stored dates are UTC
        ("2024-05-01T10:20:30", datetime(2024, 5, 1, 10, 20, 30)),
    ],
)
def test_dates_in_cloudstacks_input_formats(text: str, expected: datetime) -> None:
    assert validate_params("doIt", Params, {"name": "n", "startdate": text}, resolver).startdate == expected


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ({}, "Unable to execute API command doit due to missing parameter name"),
        ({"name": ""}, "Unable to execute API command doit due to missing parameter name"),
        ({"name": "n", "count": "x1"}, "API command doit due to invalid value x1 for parameter count"),
        ({"name": "123456789"}, "Value greater than max allowed length 8 for param: name"),
        ({"name": "n", "startdate": "May 1"}, "invalid value May 1 for parameter startdate"),
        ({"name": "n", "details": "flat"}, "invalid value flat for parameter details"),
        ({"name": "n", "zoneid": "nope"}, "Invalid parameter zoneid value=nope due to incorrect long value format, "
         "or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."),
        ({"name": "n", "zoneids": f"{ZONE},7a1f0f4e-1111-4222-8333-944455556666"},
         "Invalid parameter zoneids value=7a1f0f4e-1111-4222-8333-944455556666 due to"),
    ],
)  # fmt: skip
def test_errors_name_the_parameter(values: dict[str, str], text: str) -> None:
    with pytest.raises(ParamError) as caught:
        validate_params("doIt", Params, values, resolver)
    assert text in caught.value.errortext
    assert caught.value.errorcode == 431


def test_minus_one_passes_any_uuid_parameter_unresolved_as_cloudstack_allows() -> None:
    parsed = validate_params("doIt", Params, {"name": "n", "zoneid": "-1", "zoneids": f"-1,{ZONE}"}, resolver)
    assert parsed.zoneid == "-1" and parsed.zoneids == ["-1", ZONE]
    with pytest.raises(ParamError):  # only -1 itself: other negative numbers are no ids
        validate_params("doIt", Params, {"name": "n", "zoneid": "-2"}, resolver)


def test_unknown_parameters_are_ignored() -> None:
    assert validate_params("doIt", Params, {"name": "n", "whatever": "x"}).name == "n"


@pytest.mark.parametrize(
    ("page", "pagesize", "window"),
    [(None, None, Page(0, 500)), (None, -1, Page(0, None)), (1, 500, Page(0, 500)), (3, 20, Page(40, 20)),
     (0, 20, Page(0, 20))],
)  # fmt: skip
def test_paging_windows(page: int | None, pagesize: int | None, window: Page) -> None:
    assert page_window(page, pagesize, 500) == window


@pytest.mark.parametrize(
    ("page", "pagesize", "text"),
    [(None, 10, '"page" parameter is required'), (1, None, '"pagesize" parameter is required'),
     (1, -1, "Can't specify page parameter when pagesize is -1"), (1, 501, "can't exceed max allowed page size"),
     (1, 0, "Invalid page size")],
)  # fmt: skip
def test_paging_errors(page: int | None, pagesize: int | None, text: str) -> None:
    with pytest.raises(ParamError, match=text):
        page_window(page, pagesize, 500)
