"""Response envelopes, JSON and XML rendering, and error bodies (``ApiResponseSerializer``).

Every answer is ``{"<command lower>response": body}``. A list body holds only ``count`` (the total) and the
list key, and is ``{}`` when empty; a single object is wrapped in its object name; deletes answer
``{"success": true}``; async commands ``{"jobid": ...}`` (plus ``"id"`` for async-create). Fields that are
``None`` are left out, as Gson does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar
from xml.sax.saxutils import escape, quoteattr

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from provisioner.api.settings import ApiSettings
from provisioner.exceptions import ApiError

XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
#: What non-root callers see instead of the details of 530, 533 and 534 errors (``BaseCmd.USER_ERROR_MESSAGE``).
USER_ERROR_MESSAGE = "Internal error executing command, please contact your system administrator"
_HIDDEN_FOR_USERS = frozenset({530, 533, 534})


def format_date(value: datetime) -> str:
    """CloudStack's date format, ``yyyy-MM-dd'T'HH:mm:ssZ`` in UTC (``2024-05-01T10:00:00+0000``)."""
    # Every listed row carries dates, so this runs thousands of times per page: isoformat is C code, strftime
    # and astimezone cost several times more. Naive values are UTC (how the database layer stores them).
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "+0000"


#: A datetime field of a response model, serialised the CloudStack way.
CsDateTime = Annotated[datetime, PlainSerializer(format_date, return_type=str, when_used="json")]


class ResponseModel(BaseModel):
    """Base of response models: field descriptions become the ``response`` entries of ``listApis``."""

    model_config = ConfigDict(populate_by_name=True)


class SuccessResponse(ResponseModel):
    """CloudStack's ``SuccessResponse``, the answer of deletes and similar commands."""

    success: bool = Field(default=True, description="true if the operation is executed successfully")
    displaytext: str | None = Field(default=None, description="any text associated with the success or failure")


#: A response model, or a row its list handler built already in wire form (JSON-ready, ``None`` fields left out):
#: the hot lists (``listVirtualMachines``) skip per-field validation and serialisation that way.
ItemT = TypeVar("ItemT", bound=BaseModel | Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class ListResult(Generic[ItemT]):
    """One page of a list command and the total number of matching rows (sent as ``count``)."""

    items: Sequence[ItemT]
    count: int


@dataclass(slots=True)
class ApiReply:
    """A rendered answer, independent of the HTTP framework."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as JSON-ready data, ``None`` fields left out."""
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


def list_body(key: str, items: Sequence[BaseModel | Mapping[str, Any]], count: int | None = None) -> dict[str, Any]:
    """``{"count": total, key: [...]}``; an empty list is ``{}`` (a page past the end keeps ``count``)."""
    total = len(items) if count is None else count
    body: dict[str, Any] = {}
    if total:
        body["count"] = total
    if items:
        body[key] = [dump(item) if isinstance(item, BaseModel) else item for item in items]
    return body


def object_body(key: str | None, item: BaseModel) -> dict[str, Any]:
    """A single object wrapped in its object name, or flat when ``key`` is ``None`` (``loginresponse``)."""
    data = dump(item)
    return data if key is None else {key: data}


def async_body(jobid: str, entity_id: str | None = None) -> dict[str, Any]:
    """The immediate answer of an async command; async-create adds the new entity's ``id``."""
    return {"id": entity_id, "jobid": jobid} if entity_id is not None else {"jobid": jobid}


def error_body(error: ApiError, *, show_details: bool) -> dict[str, Any]:
    """``ExceptionResponse``: ``uuidList``, ``errorcode``, ``cserrorcode``, ``errortext``.

    Args:
        error: what went wrong.
        show_details: False for callers who are not root admins: 530/533/534 texts are then generic.
    """
    text = error.errortext
    if not show_details and error.errorcode in _HIDDEN_FOR_USERS:
        text = USER_ERROR_MESSAGE
    return {"uuidList": [], "errorcode": error.errorcode, "cserrorcode": error.cserrorcode, "errortext": text}


def job_error(error: ApiError) -> dict[str, Any]:
    """The ``jobresult`` of a failed async job: ``errorcode`` and ``errortext`` (no ``cserrorcode``)."""
    return {"errorcode": error.errorcode, "errortext": error.errortext}


def envelope_name(command: str | None) -> str:
    """``<command lower>response``, or ``errorresponse`` when there is no (known) command."""
    return f"{command.lower()}response" if command else "errorresponse"


def _xml_value(name: str, value: Any) -> str:
    if isinstance(value, Mapping):
        inner = "".join(_xml_value(key, item) for key, item in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        return "".join(_xml_value(name, item) for item in value)
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return f"<{name}>{text}</{name}>"


def render(name: str, body: Mapping[str, Any], fmt: str, settings: ApiSettings) -> tuple[bytes, str]:
    """Render an envelope as JSON (``response=json``) or XML (the default), with its Content-Type."""
    if fmt.lower() == "json":
        # orjson: a 500-row page encodes in a tenth of json.dumps's time (the bodies are JSON-ready already).
        return orjson.dumps({name: body}), settings.json_content_type
    inner = "".join(_xml_value(key, value) for key, value in body.items())
    version = quoteattr(settings.cloudstack_version)
    xml = f'<?xml version="1.0" encoding="UTF-8"?><{name} cloud-stack-version={version}>{inner}</{name}>'
    return xml.encode("utf-8"), XML_CONTENT_TYPE


def header_safe(text: str) -> str:
    """A value that fits an HTTP header: one line of latin-1."""
    # Control characters (a NUL in a fuzzed id) would make the whole answer invalid HTTP.
    printable = "".join(char if " " <= char != "\x7f" else " " for char in text)
    flat = " ".join(printable.split())
    return flat.encode("latin-1", "replace").decode("latin-1")


def reply(name: str, body: Mapping[str, Any], fmt: str, settings: ApiSettings, status: int = 200) -> ApiReply:
    """Render a body into an :class:`ApiReply`."""
    data, content_type = render(name, body, fmt, settings)
    return ApiReply(status=status, body=data, content_type=content_type)


def error_reply(
    command: str | None, error: ApiError, fmt: str, settings: ApiSettings, *, show_details: bool
) -> ApiReply:
    """An error answer: HTTP status = ``errorcode``, the error body, and ``X-Description``."""
    body = error_body(error, show_details=show_details)
    result = reply(envelope_name(command), body, fmt, settings, status=error.errorcode)
    result.headers["X-Description"] = header_safe(body["errortext"])
    return result
