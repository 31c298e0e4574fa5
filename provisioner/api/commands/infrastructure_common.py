"""What the infrastructure command modules share: calling a service in a transaction, list paging, roles.

The infrastructure services (``provisioner.services.infrastructure``) return rows keyed by CloudStack's wire
names, so a handler only validates them into its response model. Not a command module: it registers nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter

from provisioner.api.registry import CommandContext
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.principal import RoleType

ModelT = TypeVar("ModelT", bound=BaseModel)

#: ``authorized = {RoleType.Admin}``: the infrastructure commands CloudStack keeps to root admins.
ROOT_ONLY = (RoleType.ADMIN,)
#: Lists every role may call (zones, offerings, OS types, hypervisors, regions).
EVERYONE = tuple(RoleType)


def call(ctx: CommandContext, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``function(conn, caller, *args, **kwargs)`` of an infrastructure service in one transaction."""
    return backend_of(ctx).infrastructure.run(function, ctx.caller, *args, **kwargs)


def read(ctx: CommandContext, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`call` for a service function that only reads (the ``list_*`` ones)."""
    return backend_of(ctx).infrastructure.read(function, ctx.caller, *args, **kwargs)


def one(ctx: CommandContext, model: type[ModelT], function: Callable[..., Any], *args: Any, **kwargs: Any) -> ModelT:
    """Call a service that returns one wire row and validate it into ``model``."""
    return model.model_validate(call(ctx, function, *args, **kwargs))


def first(
    ctx: CommandContext, model: type[ModelT], function: Callable[..., Any], *args: Any, **kwargs: Any
) -> list[ModelT]:
    """Call a service that answers a list of rows (``addHost``, ``addCluster``) and validate each."""
    return validate_rows(model, call(ctx, function, *args, **kwargs))


@cache
def _list_adapter(model: type[ModelT]) -> TypeAdapter[list[ModelT]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_rows(model: type[ModelT], rows: list[dict[str, Any]]) -> list[ModelT]:
    """Validate a page of wire rows into ``model`` in one call (a 500-row page costs a third of row by row)."""
    return _list_adapter(model).validate_python(rows)


def listing(
    ctx: CommandContext, model: type[ModelT], function: Callable[..., Any], **filters: Any
) -> ListResult[ModelT]:
    """Call a service ``list_*`` function with the request's page and wrap its ``(rows, total)``."""
    page, pagesize = page_numbers(ctx.page)
    rows, total = read(ctx, function, page=page, pagesize=pagesize, **filters)
    return ListResult(validate_rows(model, rows), total)


def page_of(ctx: CommandContext, model: type[ModelT], rows: list[dict[str, Any]]) -> ListResult[ModelT]:
    """Page rows a service returns whole (fixed, short lists such as hypervisors or storage providers)."""
    start, limit = ctx.page.offset, ctx.page.limit
    chosen = rows[start:] if limit is None else rows[start : start + limit]
    return ListResult(validate_rows(model, chosen), len(rows))


def details_map(entries: list[dict[str, str]] | None) -> dict[str, str]:
    """``details[i].key=k&details[i].value=v`` entries (or ``details[0].k=v`` ones) as one string map."""
    merged: dict[str, str] = {}
    for entry in entries or ():
        if "key" in entry and "value" in entry:
            merged[entry["key"]] = entry["value"]
        else:
            merged.update(entry)
    return merged


class CapacityResponse(ResponseModel):
    """One capacity figure (``CapacityResponse``), in ``listCapacity`` and ``showcapacities`` answers."""

    type: int = Field(description="the capacity type")
    name: str | None = Field(default=None, description="the capacity name")
    zoneid: str | None = Field(default=None, description="the Zone ID")
    zonename: str | None = Field(default=None, description="the Zone name")
    podid: str | None = Field(default=None, description="the Pod ID")
    podname: str | None = Field(default=None, description="the Pod name")
    clusterid: str | None = Field(default=None, description="the Cluster ID")
    clustername: str | None = Field(default=None, description="the Cluster name")
    capacitytotal: int = Field(description="the total capacity available")
    capacityused: int = Field(description="the capacity currently in use")
    capacityallocated: int | None = Field(default=None, description="the capacity currently in allocated")
    percentused: str = Field(description="the percentage of capacity currently in use")
