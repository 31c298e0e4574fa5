"""What every resource and data source shares: error reporting, partial states, timeouts and the API handle.

Each operation runs inside :meth:`ProviderResource._guard`. A :class:`~provisioner_terraform.api.ProviderFailure`
becomes a diagnostic on the attribute it names; an API error becomes one with the server's code and text; an
interrupted or timed-out job wait becomes one too. When the server has already returned the new object's id,
the operation still hands back the state it has, so Terraform records the object (tainted after a failed
create) instead of forgetting it: an interrupted apply never orphans a VM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from tf.blocks import SetNestedBlock
from tf.iface import (
    CreateContext,
    DataSource,
    DeleteContext,
    ImportContext,
    ReadContext,
    ReadDataContext,
    Resource,
    UpdateContext,
    UpgradeContext,
)
from tf.schema import Attribute, Block, Schema
from tf.types import String, Unknown
from tf.utils import Diagnostics

from provisioner.exceptions import ApiError, ProvisionerError
from provisioner_terraform.api import Api, ProviderFailure

if TYPE_CHECKING:
    from provisioner_terraform.provider import ProvisionerProvider

State = dict[str, Any]

#: ``timeouts { create = "10m" update = "5m" delete = "5m" }``: a set block, as the framework has no single block.
TIMEOUTS = SetNestedBlock(
    "timeouts",
    Block(
        attributes=[
            Attribute(op, String(), optional=True, description=f"How long {op} may wait for jobs, e.g. `10m`.")
            for op in ("create", "update", "delete")
        ],
        description="Time limits of the operations that wait for async jobs (default: the provider's `timeout`).",
    ),
)
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in a Terraform duration such as ``90s``, ``10m`` or ``1h30m``.

    Raises:
        ValueError: the text is not such a duration.
    """
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m or 1h30m")
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def known(value: Any) -> bool:
    """Whether a planned value is set and known."""
    return value is not None and value is not Unknown


def settle(state: State) -> State:
    """The state with unknown values as null: what an operation returns when it stops half-way."""
    return {key: None if value is Unknown else value for key, value in state.items()}


def report(diags: Diagnostics, error: Exception, action: str) -> None:
    """Add the diagnostic an operation's error deserves."""
    from provisioner.client import ClientError, JobInterruptedError, JobTimeoutError  # loaded once configured

    if isinstance(error, ProviderFailure):
        diags.add_error(error.summary, error.detail, path=[error.attribute] if error.attribute else None)
    elif isinstance(error, JobInterruptedError):
        diags.add_error(
            f"{action} interrupted",
            f"{error}. The object is recorded in the state; run the same command again to converge.",
        )
    elif isinstance(error, JobTimeoutError):
        diags.add_error(
            f"{action} timed out",
            f"{error}. Raise the provider's timeout or this resource's timeouts block, and run again.",
        )
    elif isinstance(error, ApiError):
        diags.add_error(f"{action} failed (error {error.errorcode})", str(error))
    elif isinstance(error, ClientError):
        diags.add_error(f"{action}: cannot talk to the API", str(error))
    else:  # pragma: no cover - a bug: still a diagnostic, never a bare "plugin error"
        diags.add_error(f"{action}: internal error", f"{type(error).__name__}: {error}")


class _Base:
    """The provider handle shared by resources and data sources."""

    type_suffix: ClassVar[str]
    schema: ClassVar[Schema]

    def __init__(self, provider: ProvisionerProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.type_suffix

    @classmethod
    def get_schema(cls) -> Schema:
        return cls.schema

    @property
    def api(self) -> Api:
        """The configured API, or a failure that says how to configure it."""
        if self.provider.api is None:
            raise ProviderFailure(
                "Provider not configured",
                "The provisioner provider has no api_url, api_key and secret_key; see the provider block.",
            )
        return self.provider.api

    @classmethod
    def empty_state(cls) -> State:
        """Every attribute null and every block empty."""
        state: State = {attribute.name: None for attribute in cls.schema.attributes}
        state.update({block.type_name: [] for block in cls.schema.block_types})
        return state


class ProviderResource(_Base, Resource):
    """A resource: subclasses implement ``_create``, ``_read``, ``_update`` and ``_delete`` on plain dicts.

    ``_create`` and ``_update`` mutate the state they get as they go (the id first), so a failure half-way
    still returns what exists.
    """

    def _create(self, state: State) -> State:
        raise NotImplementedError

    def _read(self, state: State) -> State | None:
        raise NotImplementedError

    def _update(self, state: State, planned: State) -> State:
        raise NotImplementedError

    def _delete(self, state: State) -> None:
        raise NotImplementedError

    def _refreshed(self, state: State) -> State:
        """The state read back after an operation; the object must still exist."""
        found = self._read(state)
        if found is None:
            raise ProviderFailure(
                f"{self.type_suffix} vanished", f"{state['id']} is gone right after the operation; see the server log."
            )
        return found

    def timeout(self, state: State, operation: str) -> float:
        """Seconds ``operation`` may wait: the resource's ``timeouts`` block, else the provider's timeout."""
        for block in state.get("timeouts") or []:
            value = block.get(operation)
            if known(value):
                try:
                    return parse_duration(str(value))
                except ValueError as exc:
                    raise ProviderFailure("Invalid timeout", str(exc), "timeouts") from None
        return self.api.timeout

    def _guard(
        self, diags: Diagnostics, action: str, state: State | None, work: Callable[[], State | None]
    ) -> State | None:
        try:
            return work()
        except ProvisionerError as exc:
            report(diags, exc, action)
        if state is None or not known(state.get("id")):
            return None
        return settle(state)

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        state = dict(planned)
        return self._guard(ctx.diagnostics, f"create {ctx.type_name}", state, lambda: self._create(state))

    def read(self, ctx: ReadContext, current: State) -> State | None:
        state = dict(current)
        return self._guard(ctx.diagnostics, f"read {ctx.type_name}", state, lambda: self._read(state))

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        state = dict(current)
        return self._guard(ctx.diagnostics, f"update {ctx.type_name}", state, lambda: self._update(state, planned))

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        def work() -> None:
            self._delete(dict(current))

        diags = ctx.diagnostics
        before = len(diags.diagnostics)
        self._guard(diags, f"delete {ctx.type_name}", None, work)
        # A failed delete keeps the object in the state.
        return dict(current) if len(diags.diagnostics) > before and diags.has_errors() else None

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> State:
        # Every schema is at version 0 so far: the stored state is already current (no warning, unlike tf's default).
        return old

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        state = self.empty_state()
        state["id"] = id
        found = self._guard(ctx.diagnostics, f"import {ctx.type_name}", None, lambda: self._read(state))
        if found is None and not ctx.diagnostics.has_errors():
            ctx.diagnostics.add_error(
                f"Cannot import {ctx.type_name}", f"No {ctx.type_name} has the id {id!r}.", path=["id"]
            )
        return found


class ProviderDataSource(_Base, DataSource):
    """A data source: subclasses implement ``_read(config) -> state``."""

    def _read(self, config: State) -> State:
        raise NotImplementedError

    def read(self, ctx: ReadDataContext, config: State) -> State | None:
        try:
            return self._read(dict(config))
        except ProvisionerError as exc:
            report(ctx.diagnostics, exc, f"read {ctx.type_name}")
            return None
