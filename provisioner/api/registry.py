"""The declarative command registry: one declaration per command gives dispatch, validation and discovery.

A command is a plain function decorated with :func:`api_command` (CloudStack's ``@APICommand``)::

    @api_command("listZones", params=ListZonesParams, response=ZoneResponse, response_key="zone", list=True,
                 since="1.0", authorized={RoleType.ADMIN, RoleType.USER}, description="Lists zones")
    def list_zones(ctx: CommandContext, params: ListZonesParams) -> ListResult[ZoneResponse]:
        return ctx.backend.zones.list(ctx.caller, params, ctx.page)

A handler returns a ``ListResult`` or a sequence (list commands), a response model (wrapped in
``response_key``, or flat when it is ``None``), or ``None``/``SuccessResponse`` (``{"success": true}``).
Async-create commands also register a create step with :func:`create_step`, run before the job is queued.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from provisioner.api.fields import ParamSpec, param_specs
from provisioner.api.params import Page, Resolver, Value, validate_params
from provisioner.api.responses import ListResult, SuccessResponse, dump, list_body, object_body
from provisioner.exceptions import UnsupportedActionError
from provisioner.services.principal import Caller, RoleType

if TYPE_CHECKING:
    from provisioner.api.backend import ApiBackend
    from provisioner.api.settings import ApiSettings

Handler = Callable[["CommandContext", Any], Any]
CreateStep = Callable[["CommandContext", Any], str]
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

ALL_ROLES = frozenset(RoleType)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a handler gets besides its parameters.

    Attributes:
        caller: who runs the command (the job owner inside a job worker).
        backend: the services facade; concrete backends expose the services handlers call.
        settings: the API settings.
        registry: the registry the command came from (``listApis`` reads it).
        command: the command name as declared.
        page: rows to return, for list commands.
        sessionkey: the session of the request, when it came with one (``logout`` ends it).
        entity_id: for async-create commands, the id the create step returned.
        remote_addr: the client address, when known.
    """

    caller: Caller
    backend: ApiBackend
    settings: ApiSettings
    registry: Registry
    command: str
    page: Page = field(default_factory=Page)
    sessionkey: str | None = None
    entity_id: str | None = None
    remote_addr: str | None = None


@dataclass(frozen=True)
class ApiCommand:
    """One registered command and everything declared about it."""

    name: str
    handler: Handler
    params: type[BaseModel]
    response: type[BaseModel] | None
    response_key: str | None
    is_list: bool
    is_async: bool
    create: bool
    since: str | None
    authorized: frozenset[RoleType]
    description: str
    related: str
    entity_type: str | None
    create_step: CreateStep | None = None

    @cached_property
    def specs(self) -> list[ParamSpec]:
        """The declared parameters."""
        return param_specs(self.params)

    @cached_property
    def pageable(self) -> bool:
        """True when the command takes ``page``/``pagesize``."""
        return {"page", "pagesize"} <= {spec.name for spec in self.specs}

    def validate(self, values: Mapping[str, Value], resolver: Resolver | None) -> Any:
        """Convert and check the unpacked parameters (see :func:`validate_params`)."""
        return validate_params(self.name, self.params, values, resolver)

    def shape(self, result: Any) -> dict[str, Any]:
        """Turn what the handler returned into the response body (also the ``jobresult`` of a job)."""
        key = self.response_key or (self.response.__name__.lower() if self.response else "object")
        if self.is_list:
            if isinstance(result, ListResult):
                return list_body(key, result.items, result.count)
            return list_body(key, builtins.list(result or ()))
        if result is None:
            return dump(SuccessResponse())
        if isinstance(result, SuccessResponse):
            return dump(result)
        if isinstance(result, BaseModel):
            return object_body(self.response_key, result)
        if isinstance(result, Mapping):
            return dict(result)
        raise TypeError(f"{self.name} returned {type(result).__name__}, not a response model")


class Registry:
    """Commands by name; names are matched case-insensitively, as clients spell them variously."""

    def __init__(self, commands: Iterable[ApiCommand] = ()) -> None:
        self._commands: dict[str, ApiCommand] = {}
        for command in commands:
            self.add(command)

    def add(self, command: ApiCommand) -> None:
        """Register a command.

        Raises:
            ValueError: a command with that name is already registered.
        """
        key = command.name.lower()
        if key in self._commands:
            raise ValueError(f"API command {command.name} is registered twice")
        self._commands[key] = command

    def get(self, name: str) -> ApiCommand | None:
        """The command called ``name``, or ``None``."""
        return self._commands.get(name.lower())

    def commands(self) -> list[ApiCommand]:
        """Every command, sorted by name."""
        return sorted(self._commands.values(), key=lambda command: command.name)

    def copy(self) -> Registry:
        """A registry with the same commands, to which tests or apps may add more."""
        return Registry(self._commands.values())

    def api_command(
        self,
        name: str,
        *,
        params: type[BaseModel],
        response: type[BaseModel] | None = None,
        response_key: str | None = None,
        list: bool = False,  # the CloudStack term; the builtin is not used below
        is_async: bool = False,
        create: bool = False,
        since: str | None = None,
        authorized: Iterable[RoleType] | None = None,
        description: str = "",
        related: Sequence[str] | str = (),
        entity_type: str | None = None,
    ) -> Callable[[HandlerT], HandlerT]:
        """Register the decorated function as the handler of command ``name``.

        Args:
            name: the command name, e.g. ``listZones``.
            params: the pydantic parameter model.
            response: the pydantic response model (``SuccessResponse`` for deletes).
            response_key: the object name the result is wrapped in (``zone``); ``None`` for a flat body.
            list: a list command (``count`` + list key, paging).
            is_async: answer ``{"jobid"}`` at once and run the handler in a job.
            create: async-create: a create step (see :meth:`create_step`) runs first, its id is sent as ``id``.
            since: the CloudStack version that added the command.
            authorized: the role types allowed when no dynamic rule decides; default every role.
            description: shown by ``listApis``.
            related: names of related commands.
            entity_type: the job's instance type (``VirtualMachine``), for async commands.
        """
        if create and not is_async:
            raise ValueError(f"{name}: create=True needs is_async=True")

        def register(handler: HandlerT) -> HandlerT:
            self.add(
                ApiCommand(
                    name=name,
                    handler=handler,
                    params=params,
                    response=response,
                    response_key=response_key,
                    is_list=list,
                    is_async=is_async,
                    create=create,
                    since=since,
                    authorized=frozenset(authorized) if authorized is not None else ALL_ROLES,
                    description=description or (handler.__doc__ or "").strip().split("\n")[0],
                    related=related if isinstance(related, str) else ",".join(related),
                    entity_type=entity_type,
                )
            )
            return handler

        return register

    def create_step(self, name: str) -> Callable[[HandlerT], HandlerT]:
        """Register the synchronous create step of async-create command ``name`` (returns the new id)."""

        def register(step: HandlerT) -> HandlerT:
            command = self.get(name)
            if command is None or not command.create:
                raise ValueError(f"{name} is not a registered async-create command")
            self._commands[name.lower()] = replace(command, create_step=step)
            return step

        return register

    def execute_async(
        self,
        backend: ApiBackend,
        settings: ApiSettings,
        caller: Caller,
        command: str,
        params: Mapping[str, Value],
        *,
        instance_id: str | None = None,
    ) -> dict[str, Any]:
        """Run a queued async command; the job service calls this in a worker.

        Args:
            backend: the services facade.
            settings: the API settings.
            caller: the job's owner.
            command: the command name stored with the job.
            params: the unpacked parameters stored with the job (``submit_job``'s ``params``).
            instance_id: the job's instance id (the created entity for async-create commands).

        Returns:
            The ``jobresult``: ``{"<object name>": {...}}`` or ``{"success": true}``.

        Raises:
            ApiError: the command failed; the job stores ``errorcode`` and ``errortext`` (see ``job_error``).
        """
        cmd = self.get(command)
        if cmd is None:  # e.g. a job queued by a newer server during a rolling upgrade
            raise UnsupportedActionError(f"Unknown API command: {command}")
        values = cmd.validate(params, None)  # ids were checked when the job was submitted
        ctx = CommandContext(
            caller=caller,
            backend=backend,
            settings=settings,
            registry=self,
            command=cmd.name,
            entity_id=instance_id if cmd.create else None,
        )
        return cmd.shape(cmd.handler(ctx, values))


#: The registry that ``provisioner.api.commands`` modules register into.
REGISTRY = Registry()


#: Register a command in the default registry; see :meth:`Registry.api_command`.
api_command = REGISTRY.api_command
#: Register an async-create step in the default registry; see :meth:`Registry.create_step`.
create_step = REGISTRY.create_step
