"""The ``listApis`` view of the registry (``ApiDiscoveryServiceImpl``), in the shape cmk type-asserts.

Per command: ``name``, ``description``, ``isasync`` (bool), ``since``, ``related`` (comma-separated string),
``params`` (``name``, ``type``, ``required`` bool, ``description``, ``length`` int, ``related``, ``since``)
and ``response`` (``name``, ``type``, ``description``, nested ``response`` for objects and lists of them).
"""

from __future__ import annotations

import types
from datetime import date, datetime
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from provisioner.api.registry import ApiCommand
from provisioner.api.responses import ResponseModel

_TYPE_KEY = "x-cs-type"


class ApiParamResponse(ResponseModel):
    """One request parameter of a command."""

    name: str = Field(description="the name of the api parameter")
    description: str = Field(description="description of the api parameter")
    type: str = Field(description="parameter type")
    length: int = Field(description="length of the parameter")
    required: bool = Field(description="true if this parameter is required for the api request")
    since: str | None = Field(default=None, description="version of CloudStack the api was introduced in")
    related: str | None = Field(default=None, description="comma separated related apis to get the parameter")


class ApiResponseFieldResponse(ResponseModel):
    """One field of a command's response."""

    name: str = Field(description="the name of the api response field")
    description: str = Field(description="description of the api response field")
    type: str = Field(description="response field type")
    response: list[ApiResponseFieldResponse] | None = Field(default=None, description="api response fields")


class ApiResponse(ResponseModel):
    """One command, as ``listApis`` describes it."""

    name: str = Field(description="the name of the api command")
    description: str = Field(description="description of the api")
    isasync: bool = Field(description="true if api is asynchronous")
    since: str | None = Field(default=None, description="version of CloudStack the api was introduced in")
    related: str = Field(default="", description="comma separated related apis")
    params: list[ApiParamResponse] = Field(description="the list params the api accepts")
    response: list[ApiResponseFieldResponse] = Field(description="api response fields")


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_type(annotation: Any) -> tuple[str, Any]:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin in (list, set, tuple):
        args = get_args(annotation)
        element = _unwrap(args[0]) if args else str
        return ("set" if origin is set else "list"), (element if _is_model(element) else None)
    if origin is dict:
        return "map", None
    if _is_model(annotation):
        return "list", annotation  # nested objects are described as CloudStack does: type list + response
    simple = {bool: "boolean", int: "integer", float: "double", str: "string", date: "date", datetime: "date"}
    return simple.get(annotation, "string"), None


def response_fields(
    model: type[BaseModel], seen: frozenset[type[BaseModel]] = frozenset()
) -> list[ApiResponseFieldResponse]:
    """Describe a response model's fields (field descriptions become the entries' descriptions)."""
    entries = []
    for name, info in model.model_fields.items():
        entries.append(_describe(info.alias or name, info, seen | {model}))
    return entries


def _describe(name: str, info: FieldInfo, seen: frozenset[type[BaseModel]]) -> ApiResponseFieldResponse:
    kind, nested = _field_type(info.annotation)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    forced = extra.get(_TYPE_KEY)
    return ApiResponseFieldResponse(
        name=name,
        description=info.description or "",
        type=forced if isinstance(forced, str) else kind,
        # A model that contains itself is described once, without recursing forever.
        response=response_fields(nested, seen) if nested is not None and nested not in seen else None,
    )


def describe_command(command: ApiCommand) -> ApiResponse:
    """The ``listApis`` entry of one command."""
    return ApiResponse(
        name=command.name,
        description=command.description,
        isasync=command.is_async,
        since=command.since,
        related=command.related,
        params=[
            ApiParamResponse(
                name=spec.name,
                description=spec.description,
                type=spec.type,
                length=spec.length,
                required=spec.required,
                since=spec.since,
                related=spec.related,
            )
            for spec in command.specs
        ],
        response=response_fields(command.response) if command.response is not None else [],
    )
