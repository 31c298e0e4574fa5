"""``DatabaseBackend``: the concrete ``ApiBackend`` over the identity and job services, plus the service areas.

Command handlers reach the services through the backend, one attribute per area::

    backend = backend_of(ctx)
    backend.identity.transaction(lambda conn: users.list_users(conn, ctx.caller, ...))
    backend.infrastructure.run(zones.create_zone, ctx.caller, name=params.name, ...)
    backend.jobs.query(ctx.caller, jobid)

A new area is one line in :meth:`DatabaseBackend.__init__` (``self.<area> = ServiceArea(engine)``, or its own
facade) and, when it owns entity kinds that parameters reference, one resolver in :data:`RESOLVERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, Table

from provisioner.api.params import Page, Value
from provisioner.api.registry import CommandContext
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import account, domain, resource_tag, role, role_permission, user
from provisioner.exceptions import ApiError, UnsupportedActionError
from provisioner.services.common import live_uuids
from provisioner.services.compute.lifecycle.registration import vm_ids
from provisioner.services.identity import IdentityService
from provisioner.services.infrastructure.resolve import existing_ids
from provisioner.services.jobs import JobService
from provisioner.services.networks.resolve import network_ids
from provisioner.services.principal import Caller, RoleType

P = ParamSpec("P")
T = TypeVar("T")

#: CloudStack's text when a management server is shutting down (``AsyncJobManagerImpl.checkShutdown``).
SHUTDOWN_TEXT = "A shutdown has been triggered. Can not accept new jobs"


class ServiceUnavailableError(ApiError):
    """The server is shutting down or in maintenance and accepts no new async jobs (SERVICE_UNAVAILABLE)."""

    errorcode = 503
    cserrorcode = 4250


class ServiceArea:
    """A service area whose functions take a connection first, bound to the engine.

    Args:
        engine: the shared database.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in a retried transaction."""
        return run_in_transaction(self.engine, work)

    def run(self, function: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``function(conn, *args, **kwargs)`` in a retried transaction and return its result."""
        return run_in_transaction(self.engine, lambda conn: function(conn, *args, **kwargs))

    def read(self, function: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run` for a function that only reads (lists): on SQLite it does not queue behind writers."""
        return run_in_transaction(self.engine, lambda conn: function(conn, *args, **kwargs), read_only=True)


#: Identity entity kinds (``param(entity=...)``) to tables.
IDENTITY_ENTITIES: dict[str, Table] = {
    "Domain": domain,
    "Account": account,
    "User": user,
    "Role": role,
    "RolePermission": role_permission,
    "ResourceTag": resource_tag,
}


def identity_ids(conn: Connection, entity: str, ids: Sequence[str]) -> set[str] | None:
    """The UUIDs among ``ids`` naming live identity rows of ``entity``; None for other kinds."""
    table = IDENTITY_ENTITIES.get(entity)
    return None if table is None else live_uuids(conn, table, ids)


#: Resolvers asked in turn for an entity kind; the first that knows the kind answers.
RESOLVERS: tuple[Callable[[Connection, str, Sequence[str]], set[str] | None], ...] = (
    identity_ids,
    existing_ids,
    network_ids,
    vm_ids,
)


def existing(conn: Connection, kind: str, ids: Sequence[str]) -> set[str]:
    """The ids among ``ids`` naming live entities of ``kind``; none for a kind no resolver knows."""
    for resolver in RESOLVERS:
        found = resolver(conn, kind, ids)
        if found is not None:
            return found
    return set()


class DatabaseBackend:
    """The ``ApiBackend`` over the shared database.

    Attributes:
        engine: the shared database.
        identity: domains, accounts, users, roles, sessions, keys (``IdentityService``).
        jobs: async jobs (``JobService``; its pool runs them on this node).
        infrastructure: zones, pods, clusters, hosts, storage, networks, offerings (``ServiceArea``).
        accepting_jobs: False once shutdown began: new async commands then fail with 503.

    Args:
        engine: the shared database.
        identity: the identity service on ``engine``.
        jobs: the job service on ``engine``.
    """

    def __init__(self, engine: Engine, identity: IdentityService, jobs: JobService) -> None:
        self.engine = engine
        self.identity = identity
        self.jobs = jobs
        self.infrastructure = ServiceArea(engine)
        self.accepting_jobs = True

    # -- authentication (IdentityService) ------------------------------------------------------

    def find_api_key(self, apikey: str) -> tuple[str, Caller] | None:
        """See ``ApiBackend.find_api_key``."""
        return self.identity.find_api_key(apikey)

    def login(self, username: str, password: str, domain_path: str | None, domain_id: str | None) -> Caller:
        """See ``ApiBackend.login``."""
        return self.identity.login(username, password, domain_path, domain_id)

    def create_session(self, caller: Caller) -> str:
        """See ``ApiBackend.create_session``."""
        return self.identity.create_session(caller)

    def resolve_session(self, sessionkey: str) -> Caller | None:
        """See ``ApiBackend.resolve_session``."""
        return self.identity.resolve_session(sessionkey)

    def end_session(self, sessionkey: str) -> None:
        """See ``ApiBackend.end_session``."""
        self.identity.end_session(sessionkey)

    def is_allowed(self, caller: Caller, command: str, default_roles: frozenset[RoleType]) -> bool:
        """See ``ApiBackend.is_allowed``."""
        return self.identity.is_allowed(caller, command, default_roles)

    def system_caller(self) -> Caller:
        """See ``ApiBackend.system_caller``."""
        return self.identity.system_caller()

    def resolve_ids(self, wanted: Mapping[str, list[str]]) -> dict[str, set[str]]:
        """See ``ApiBackend.resolve_ids``; an unknown kind resolves nothing (every id is then refused)."""
        return run_in_transaction(
            self.engine, lambda conn: {kind: existing(conn, kind, ids) for kind, ids in wanted.items()}, read_only=True
        )

    # -- jobs (JobService) ---------------------------------------------------------------------

    def submit_job(
        self,
        caller: Caller,
        command: str,
        params: Mapping[str, Value],
        instance_type: str | None,
        instance_id: str | None,
        *,
        job_uuid: str | None = None,
    ) -> str:
        """See ``ApiBackend.submit_job``; refused with 503 while the server shuts down."""
        if not self.accepting_jobs:
            raise ServiceUnavailableError(SHUTDOWN_TEXT)
        return self.jobs.submit_job(caller, command, params, instance_type, instance_id, job_uuid=job_uuid)

    def query_job(self, caller: Caller, jobid: str) -> Mapping[str, Any]:
        """See ``ApiBackend.query_job``."""
        return self.jobs.query(caller, jobid).as_response()

    def list_jobs(
        self,
        caller: Caller,
        *,
        account: str | None,
        domain_id: str | None,
        start_date: datetime | None,
        keyword: str | None,
        page: Page,
    ) -> tuple[int, Sequence[Mapping[str, Any]]]:
        """See ``ApiBackend.list_jobs``."""
        number, size = page_numbers(page)
        total, views = self.jobs.list(
            caller,
            account_name=account,
            domain_uuid=domain_id,
            start_date=start_date,
            keyword=keyword,
            page=number,
            pagesize=size,
        )
        return total, [view.as_response() for view in views]


def page_numbers(page: Page) -> tuple[int | None, int | None]:
    """A protocol :class:`Page` (offset, limit) as the services' 1-based ``(page, pagesize)``."""
    if page.limit is None:
        return None, None
    return page.offset // page.limit + 1, page.limit


def backend_of(ctx: CommandContext) -> DatabaseBackend:
    """The command's backend as a :class:`DatabaseBackend` (commands over the database need its areas).

    Raises:
        UnsupportedActionError: the app runs on another backend (a protocol test's in-memory one), which cannot
            serve the command (432, as for a command this server does not know).
    """
    backend = ctx.backend
    if not isinstance(backend, DatabaseBackend):
        raise UnsupportedActionError(f"Unknown API command: {ctx.command}")
    return backend
