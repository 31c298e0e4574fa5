"""The OpenAPI 3.1 document of the registry, served at ``/openapi.json``.

CloudStack has one endpoint and picks the command with a query parameter, which OpenAPI cannot key paths
on. As ``cloudstack-openapi-ngine`` does, each command gets a synthetic path ``/client/api/<command>`` with a
required ``command`` parameter pinned to that command; the app serves ``/client/api/<anything>`` exactly as
``/client/api`` (the path segment is ignored), so the document can be fuzzed as it is (schemathesis).
``response`` is pinned to ``json``: the document describes the JSON rendering only. Map parameters
(``name[i].key=value``) cannot be expressed as OpenAPI query parameters and are listed in the operation's
``x-cloudstack-map-params`` instead. Requests need ``apiKey`` + ``signature`` or a session, except on the
integration API, which is the one to fuzz.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from provisioner.api.fields import ParamSpec
from provisioner.api.registry import ApiCommand, Registry
from provisioner.api.responses import SuccessResponse
from provisioner.api.settings import ApiSettings

_SCALARS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "integer": {"type": "integer", "format": "int32"},
    "short": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "description": "yyyy-MM-dd or yyyy-MM-dd HH:mm:ss"},
}

_ERROR = {
    "type": "object",
    "properties": {
        "uuidList": {"type": "array", "items": {"type": "object"}},
        "errorcode": {"type": "integer"},
        "cserrorcode": {"type": "integer"},
        "errortext": {"type": "string"},
    },
    "required": ["errorcode", "cserrorcode", "errortext"],
}


def _schema(spec: ParamSpec) -> dict[str, Any]:
    if spec.type == "list":
        item = dict(_SCALARS.get(spec.element or "string", {"type": "string", "maxLength": spec.length}))
        return {"type": "array", "items": item}
    if spec.type in _SCALARS:
        return dict(_SCALARS[spec.type])
    return {"type": "string", "maxLength": spec.length}


def _parameter(spec: ParamSpec) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": spec.name,
        "in": "query",
        "required": spec.required,
        "description": spec.description,
        "schema": _schema(spec),
    }
    if spec.type == "list":
        parameter.update(style="form", explode=False)
    if spec.since:
        parameter["x-cloudstack-since"] = spec.since
    return parameter


def _pinned(name: str, value: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "string", "enum": [value]},
    }


Refs = dict[type[BaseModel], dict[str, Any]]


def _body(command: ApiCommand, refs: Refs) -> dict[str, Any]:
    if command.is_async:
        properties = {"jobid": {"type": "string"}, "id": {"type": "string"}}
        return {"type": "object", "properties": properties, "required": ["jobid"]}
    response = command.response or SuccessResponse
    ref = refs[response]
    if command.is_list:
        key = command.response_key or response.__name__.lower()
        return {"type": "object", "properties": {"count": {"type": "integer"}, key: {"type": "array", "items": ref}}}
    if command.response_key is None or response is SuccessResponse:
        return ref
    return {"type": "object", "properties": {command.response_key: ref}, "required": [command.response_key]}


def _envelope(command: ApiCommand, body: dict[str, Any]) -> dict[str, Any]:
    key = f"{command.name.lower()}response"
    return {"application/json": {"schema": {"type": "object", "properties": {key: body}, "required": [key]}}}


def _operation(command: ApiCommand, refs: Refs) -> dict[str, Any]:
    parameters = [
        _pinned("command", command.name, "The API command (the path segment is ignored)."),
        _pinned("response", "json", "Response format; this document describes JSON only."),
        *(_parameter(spec) for spec in command.specs if spec.type != "map"),
    ]
    operation: dict[str, Any] = {
        "operationId": command.name,
        "summary": command.description.split(". ")[0][:120] or command.name,
        "description": command.description,
        "parameters": parameters,
        "responses": {
            "200": {"description": "Success.", "content": _envelope(command, _body(command, refs))},
            "default": {
                "description": "CloudStack error; the HTTP status equals errorcode.",
                "content": _envelope(command, {"$ref": "#/components/schemas/CloudStackError"}),
            },
        },
        "x-cloudstack-async": command.is_async,
    }
    maps = [spec.name for spec in command.specs if spec.type == "map"]
    if maps:
        operation["x-cloudstack-map-params"] = maps
    if command.since:
        operation["x-cloudstack-since"] = command.since
    return operation


def build_openapi(registry: Registry, settings: ApiSettings) -> dict[str, Any]:
    """Build the OpenAPI document of every registered command."""
    commands = registry.commands()
    models: set[type[BaseModel]] = {SuccessResponse, *(c.response for c in commands if c.response is not None)}
    keyed, definitions = models_json_schema(
        [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    refs: Refs = {model: dict(keyed[(model, "serialization")]) for model in models}
    schemas: dict[str, Any] = {"CloudStackError": _ERROR, **definitions.get("$defs", {})}
    paths = {}
    for command in commands:
        method = "post" if command.name == "login" else "get"
        paths[f"/client/api/{command.name}"] = {method: _operation(command, refs)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "provisioner CloudStack API",
            "version": settings.cloudstack_version,
            "description": (__doc__ or "").strip(),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "query", "name": "apiKey"},
                "signature": {"type": "apiKey", "in": "query", "name": "signature"},
                "sessionKey": {"type": "apiKey", "in": "query", "name": "sessionkey"},
            },
        },
    }
