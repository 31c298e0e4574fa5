"""Request parameters: merging, unpacking ``name[i].key=value`` maps, and validation against a command model.

The steps follow CloudStack's ``ParamUnpackWorker`` and ``ParamProcessWorker``: names are lower-cased, map
parameters are grouped by index, then each declared parameter is converted by its CloudStack type and the
UUIDs are checked for existence, all before the command runs (also for async commands).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from provisioner.api.fields import ParamSpec, param_specs
from provisioner.exceptions import MalformedParameterError, ParamError

ParamsT = TypeVar("ParamsT", bound=BaseModel)

#: A parameter value after unpacking: a plain string, or the entries of a ``name[i].key=value`` map.
Value = str | list[dict[str, str]]
#: The id CloudStack accepts in any UUID parameter (``ParamProcessWorker``): "all" for ``projectid=-1``,
#: every zone for ``registerTemplate zoneid=-1``; the command decides what it means.
ANY_ID = "-1"

#: Given an entity kind and ids, return the ids that exist (the services implement it).
#: Given the UUIDs wanted per entity kind (e.g. ``{"Zone": [...]}``), answers those that exist, per kind.
Resolver = Callable[[Mapping[str, list[str]]], Mapping[str, set[str]]]

_MAP_NAME = re.compile(r"^([^\[\]]+)\[(\d+)\]\.([^\[\]]+)$")
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def merge_params(query: Iterable[tuple[str, str]], body: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Merge query-string and form-body pairs, names as sent; the first value wins and GET comes first.

    This is the servlet parameter map the signature is computed over.
    """
    merged: dict[str, str] = {}
    for name, value in (*query, *body):
        merged.setdefault(name, value)
    return merged


def unpack(params: Mapping[str, str]) -> dict[str, Value]:
    """Lower-case the names and group ``name[i].key=value`` entries into lists of dicts ordered by index.

    Raises:
        MalformedParameterError: a name has brackets but not the ``name[i].key`` form (430).
    """
    plain: dict[str, Value] = {}
    maps: dict[str, dict[int, dict[str, str]]] = {}
    for raw_name, value in params.items():
        name = raw_name.lower()
        if "[" not in name and "]" not in name:
            plain.setdefault(name, value)
            continue
        match = _MAP_NAME.match(name)
        if match is None:
            raise MalformedParameterError(
                f"Unable to decode parameter {raw_name}; if specifying an object array, please use "
                "parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup"
            )
        base, index, key = match.group(1), int(match.group(2)), match.group(3)
        maps.setdefault(base, {}).setdefault(index, {})[key] = value
    for base, entries in maps.items():
        plain[base] = [entries[i] for i in sorted(entries)]
    return plain


def missing_parameter(command: str, name: str) -> ParamError:
    """The 431 CloudStack answers for a missing required parameter."""
    return ParamError(f"Unable to execute API command {command.lower()} due to missing parameter {name}")


def invalid_value(command: str, name: str, value: object) -> ParamError:
    """The 431 for a value that does not convert to the parameter's type."""
    return ParamError(
        f"Unable to execute API command {command.lower()} due to invalid value {value} for parameter {name}"
    )


def unknown_id(name: str, value: str) -> ParamError:
    """The verbatim 431 for a malformed or unknown UUID; cloudstack-go and Terraform match this text."""
    return ParamError(
        f"Invalid parameter {name} value={value} due to incorrect long value format, or entity does not exist or "
        "due to incorrect parameter annotation for the field in api cmd class."
    )


#: CloudStack's date inputs: its two legacy formats and the ISO form with a zone (``2026-11-24T06:00:00+0000``).
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S")


def _date(command: str, spec: ParamSpec, text: str) -> datetime:
    # An unencoded "+0000" arrives as " 0000" (a form-encoded "+" is a space): read it back as the zone.
    candidate = re.sub(r"(T\d{2}:\d{2}:\d{2}) (\d{4})$", r"\1+\2", text.strip())
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(candidate, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is not None:  # stored dates are naive UTC
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    raise invalid_value(command, spec.name, text)


def _scalar(command: str, spec: ParamSpec, kind: str, text: str) -> Any:
    if kind == "boolean":
        return text.lower() == "true"  # Boolean.valueOf: anything but "true" is false
    if kind in ("integer", "long", "short"):
        try:
            return int(text)
        except ValueError:
            raise invalid_value(command, spec.name, text) from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise invalid_value(command, spec.name, text) from None
    if kind == "date":
        return _date(command, spec, text)
    if kind == "uuid":
        if text == ANY_ID:
            return ANY_ID
        if not UUID_TEXT.match(text):
            raise unknown_id(spec.name, text)
        return str(uuid.UUID(text))  # ids are lower-case on the wire
    if len(text) > spec.length:
        raise ParamError(f"Value greater than max allowed length {spec.length} for param: {spec.name}")
    if "\x00" in text:  # PostgreSQL cannot store a NUL character in text: refuse it up front on every database
        raise invalid_value(command, spec.name, text.replace("\x00", "\\0"))
    return text


def _convert(command: str, spec: ParamSpec, value: Value) -> Any:
    if spec.type == "map":
        if isinstance(value, str):
            raise invalid_value(command, spec.name, value)
        if any("\x00" in text for entry in value for text in (*entry, *entry.values())):
            raise invalid_value(command, spec.name, f"{spec.name}[...]")
        return value
    if not isinstance(value, str):
        raise invalid_value(command, spec.name, f"{spec.name}[...]")
    if spec.type == "list":
        element = spec.element or "string"
        return [_scalar(command, spec, element, item.strip()) for item in value.split(",") if item.strip()]
    return _scalar(command, spec, spec.type, value)


def _check_ids(specs: list[ParamSpec], converted: dict[str, Any], resolver: Resolver | None) -> None:
    if resolver is None:
        return
    wanted: dict[str, list[tuple[str, str]]] = {}
    for spec in specs:
        if spec.entity is None or spec.name not in converted:
            continue
        value = converted[spec.name]
        for item in value if isinstance(value, list) else [value]:
            if item != ANY_ID:
                wanted.setdefault(spec.entity, []).append((spec.name, item))
    if not wanted:
        return
    # Every kind in one call: the backend answers them in one transaction.
    found = resolver({entity: sorted({item for _, item in pairs}) for entity, pairs in wanted.items()})
    for entity, pairs in wanted.items():
        for name, item in pairs:
            if item not in found.get(entity, ()):
                raise unknown_id(name, item)


def validate_params(
    command: str, model: type[ParamsT], values: Mapping[str, Value], resolver: Resolver | None = None
) -> ParamsT:
    """Convert and check the unpacked parameters of one command.

    Args:
        command: the command name (error texts carry it in lower case).
        model: the command's parameter model.
        values: the unpacked, lower-cased parameters.
        resolver: checks that UUIDs exist; ``None`` skips that check (unit tests of the model).

    Returns:
        The parameter model instance.

    Raises:
        ParamError: a required parameter is missing, a value does not convert, or an id does not exist.
    """
    specs = param_specs(model)
    converted: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name.lower())
        if value is None or value == "":
            if spec.required:
                raise missing_parameter(command, spec.name)
            continue
        converted[spec.name] = _convert(command, spec, value)
    _check_ids(specs, converted, resolver)
    try:
        return model.model_validate(converted)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else command
        shown = converted.get(name, values.get(name, ""))
        raise invalid_value(command, name, shown) from None


@dataclass(frozen=True, slots=True)
class Page:
    """Which rows a list command returns: ``offset`` and ``limit`` (``None`` = unlimited)."""

    offset: int = 0
    limit: int | None = None


def page_window(page: int | None, pagesize: int | None, max_page_size: int) -> Page:
    """Apply ``BaseListCmd`` paging rules.

    ``page`` and ``pagesize`` go together; ``pagesize=-1`` means unlimited (and forbids ``page``); a page
    size above ``default.page.size`` is refused; with neither, the first ``default.page.size`` rows.

    Raises:
        ParamError: any rule is broken (431).
    """
    if pagesize is not None and page is None and pagesize != -1:
        raise ParamError('"page" parameter is required when "pagesize" is specified')
    if page is not None and pagesize is None:
        raise ParamError('"pagesize" parameter is required when "page" is specified')
    if pagesize is None or page is None:
        return Page(0, None if pagesize == -1 else max_page_size)
    if pagesize == -1:
        raise ParamError("Can't specify page parameter when pagesize is -1 (Unlimited)")
    if pagesize > max_page_size:
        raise ParamError(f"Page size can't exceed max allowed page size value: {max_page_size}")
    if pagesize < 1:
        raise ParamError(f"Invalid page size {pagesize}: it must be positive, or -1 for all rows")
    return Page(pagesize * (page - 1) if page > 0 else 0, pagesize)
