"""Declaring command parameters: ``param()`` fields on pydantic models, and the specs read back from them.

A parameter model is a pydantic model whose field names (or aliases) are CloudStack's lower-case names::

    class ListZonesParams(BaseListParams):
        id: str | None = param("the ID of the zone", entity="Zone")
        available: bool | None = param("true to list zones the caller may deploy in", since="3.0.0")

The CloudStack type is inferred from the annotation (``str`` → string, or uuid with ``entity``; ``int`` →
integer; ``bool``; ``list[...]``; ``list[dict[str, str]]`` → map; ``date``/``datetime`` → date; ``float``) and
may be forced with ``type=``. A field without a default is required.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

CsType = Literal["string", "uuid", "integer", "long", "short", "boolean", "list", "map", "date", "float"]
ElementType = Literal["string", "uuid", "integer", "long"]

# Extension keys in the JSON schema; the x- prefix keeps the OpenAPI document valid.
_TYPE, _ENTITY, _SINCE, _LENGTH, _RELATED = "x-cs-type", "x-cs-entity", "x-cs-since", "x-cs-length", "x-cs-related"


def param(
    description: str,
    *,
    default: Any = None,
    required: bool = False,
    type: CsType | None = None,  # mirrors @Parameter(type=...)
    entity: str | None = None,
    since: str | None = None,
    length: int = 255,
    related: str | None = None,
    alias: str | None = None,
) -> Any:
    """Declare a command parameter (CloudStack's ``@Parameter``).

    Args:
        description: shown by ``listApis`` and the OpenAPI document.
        default: the value when the parameter is absent (optional parameters only).
        required: the parameter must be sent (431 naming it otherwise).
        type: force the CloudStack type (``long`` for an ``int`` field, for instance).
        entity: for UUID parameters, the kind of entity; the id must exist (checked before the command runs).
        since: the CloudStack version that added the parameter.
        length: the largest accepted length of a string value.
        related: comma-separated names of related commands.
        alias: the wire name when it is not a valid Python identifier.
    """
    extra: dict[str, Any] = {_LENGTH: length}
    for key, value in ((_TYPE, type), (_ENTITY, entity), (_SINCE, since), (_RELATED, related)):
        if value is not None:
            extra[key] = value
    return Field(
        PydanticUndefined if required else default, description=description, alias=alias, json_schema_extra=extra
    )


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter as the protocol layer sees it (what ``listApis`` lists)."""

    name: str
    field: str
    type: CsType
    required: bool
    description: str
    length: int
    since: str | None
    entity: str | None
    related: str | None
    element: ElementType | None  # list element type


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _scalar(annotation: Any, entity: str | None) -> CsType:
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "float"
    if annotation in (date, datetime):
        return "date"
    return "uuid" if entity else "string"


def _infer(annotation: Any, entity: str | None) -> tuple[CsType, ElementType | None]:
    annotation = _unwrap_optional(annotation)
    origin = get_origin(annotation)
    if origin is dict:
        return "map", None
    if origin is list:
        (element,) = get_args(annotation) or (str,)
        if get_origin(element) is dict:
            return "map", None
        scalar = _scalar(element, entity)
        elements: dict[str, ElementType] = {"uuid": "uuid", "integer": "integer", "long": "long"}
        return "list", elements.get(scalar, "string")
    return _scalar(annotation, entity), None


def _text(extra: dict[str, Any], key: str) -> str | None:
    value = extra.get(key)
    return value if isinstance(value, str) else None


def _spec(field_name: str, info: FieldInfo) -> ParamSpec:
    extra: dict[str, Any] = dict(info.json_schema_extra) if isinstance(info.json_schema_extra, dict) else {}
    entity = _text(extra, _ENTITY)
    inferred, element = _infer(info.annotation, entity)
    forced = _text(extra, _TYPE)
    length = extra.get(_LENGTH)
    return ParamSpec(
        name=info.alias or field_name,
        field=field_name,
        type=forced if forced is not None else inferred,  # type: ignore[arg-type]
        required=info.is_required(),
        description=info.description or "",
        length=length if isinstance(length, int) else 255,
        since=_text(extra, _SINCE),
        entity=entity,
        related=_text(extra, _RELATED),
        element=element,
    )


def param_specs(model: type[BaseModel]) -> list[ParamSpec]:
    """The parameters a model declares, in declaration order (a new list; the specs are read once per model)."""
    return list(_specs_of(model))


@functools.cache
def _specs_of(model: type[BaseModel]) -> tuple[ParamSpec, ...]:
    # Every request validates against its command's model: reading the fields' annotations each time cost
    # more than the validation itself.
    return tuple(_spec(name, info) for name, info in model.model_fields.items())


class BaseParams(BaseModel):
    """Base of every parameter model: immutable, and blind to the protocol parameters it does not declare."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class BaseListParams(BaseParams):
    """``BaseListCmd``: keyword search and paging (``page`` and ``pagesize`` go together)."""

    keyword: str | None = param("List by keyword")
    page: int | None = param("The page number of the result set (starting at 1)")
    pagesize: int | None = param("The number of rows per page; -1 for all (then page must be absent)")


class ListDomainResourcesParams(BaseListParams):
    """``BaseListDomainResourcesCmd``: which accounts' resources to list."""

    listall: bool | None = param(
        "If true, list resources the caller may see in other accounts too; false lists only the caller's"
    )
    isrecursive: bool | None = param("Also list resources of subdomains (with domainid)")
    account: str | None = param("List resources by account; must be used with domainid")
    domainid: str | None = param("List only resources of this domain", entity="Domain")
