"""``listApis`` in the shape cmk and the legacy cloudmonkey parse, and consumers of it (cloudstack-openapi)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.api.discovery import describe_command
from provisioner.api.openapi import build_openapi
from provisioner.api.settings import ApiSettings
from tests.support.api_backend import ADMIN, USER, make_backend


def list_apis(caller: Any = ADMIN, **params: Any) -> dict[str, Any]:
    backend = make_backend()
    handler = backend.registry.get("listApis")
    assert handler is not None
    from provisioner.api.registry import CommandContext

    ctx = CommandContext(caller, backend, backend.settings, backend.registry, "listApis")
    return handler.shape(handler.handler(ctx, handler.validate(params, None)))


def cmk_sync(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What cmk's ``config/cache.go`` does with the answer: unchecked type assertions, crashing on a wrong shape."""
    apis: dict[str, dict[str, Any]] = {}
    for api in response["api"]:
        assert isinstance(api["name"], str)
        assert isinstance(api["isasync"], bool)
        assert isinstance(api["description"], str)
        assert isinstance(api.get("related", ""), str)
        assert isinstance(api["params"], list) and isinstance(api["response"], list)
        for param in api["params"]:
            assert isinstance(param["name"], str) and isinstance(param["type"], str)
            assert isinstance(param["description"], str) and isinstance(param["required"], bool)
            int(param["length"])  # the legacy Python cloudmonkey
        for field in api["response"]:
            if "name" in field:
                assert isinstance(field["name"], str) and isinstance(field.get("description", ""), str)
        apis[api["name"]] = api
    return apis


def test_list_apis_shape_for_admin() -> None:
    response = list_apis()
    apis = cmk_sync(response)
    assert response["count"] == len(apis)
    assert {"listApis", "listCapabilities", "login", "logout", "listDemoZones", "deployDemoVm"} <= set(apis)
    zones = apis["listDemoZones"]
    assert zones["isasync"] is False and zones["since"] == "4.0.0" and zones["related"] == "createDemoZone"
    params = {p["name"]: p for p in zones["params"]}
    assert params["id"] == {
        "name": "id",
        "description": "the zone id",
        "type": "uuid",
        "length": 255,
        "required": False,
    }
    assert params["ids"]["type"] == "list" and params["available"]["type"] == "boolean"
    assert params["page"]["type"] == "integer"
    fields = {f["name"]: f for f in zones["response"]}
    assert fields["cpunumber"]["type"] == "integer" and fields["details"]["type"] == "map"
    assert fields["created"]["type"] == "date"
    create = {p["name"]: p for p in apis["createDemoZone"]["params"]}
    assert create["name"]["required"] is True and create["name"]["length"] == 64
    assert create["details"]["type"] == "map" and create["details"]["since"] == "4.2"
    assert create["cpunumber"]["type"] == "long"
    assert apis["deployDemoVm"]["isasync"] is True
    nested = {f["name"]: f for f in apis["listApis"]["response"]}
    assert {f["name"] for f in nested["params"]["response"]} >= {"name", "type", "required", "length"}


def test_list_apis_filters_by_permission_and_name() -> None:
    apis = cmk_sync(list_apis(USER))
    assert "listDemoZones" in apis and "createDemoZone" not in apis
    assert [api["name"] for api in list_apis(name="listDemoZones")["api"]] == ["listDemoZones"]
    from provisioner.exceptions import ParamError

    with pytest.raises(ParamError):
        list_apis(USER, name="createDemoZone")


def test_cloudstack_openapi_consumes_list_apis() -> None:
    document_module = pytest.importorskip("cloudstack_openapi.document")
    response = list_apis()
    document = document_module.build_document(response["api"])
    assert "/listDemoZones" in document["paths"]
    assert document["paths"]["/deployDemoVm"]["get"]["x-cloudstack-async"] is True


def test_our_openapi_document_is_valid_enough() -> None:
    backend = make_backend()
    document = build_openapi(backend.registry, ApiSettings())
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for operation in item.values():
            for status in ("200", "default"):
                text = str(operation["responses"][status])
                for ref in [part.split("'")[0] for part in text.split("#/components/schemas/")[1:]]:
                    assert ref in schemas, (path, ref)
    assert "post" in document["paths"]["/client/api/login"]


def test_describe_command_is_a_pure_view() -> None:
    backend = make_backend()
    command = backend.registry.get("listDemoZones")
    assert command is not None
    assert describe_command(command) == describe_command(command)
