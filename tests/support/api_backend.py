"""An in-memory ``ApiBackend`` and a few demo commands, so the API protocol runs end to end without a database.

The demo commands cover each command kind: a sync list (``listDemoZones``), a sync create with a map
parameter (``createDemoZone``), a delete (``deleteDemoZone``), an admin-only command, an async command
(``updateDemoZone``), an async-create (``deployDemoVm``) and a failing async command (``failDemo``). The real
``queryAsyncJobResult`` runs over :meth:`MemoryBackend.query_job`, which runs a queued job on its first poll
(no threads, deterministic).
:func:`serve_api` runs the app under a real uvicorn server on a free loopback port.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from pydantic import Field

from provisioner.api.app import create_app
from provisioner.api.commands import load_commands
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.params import Page, Value
from provisioner.api.registry import CommandContext, Registry
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel, SuccessResponse, job_error
from provisioner.api.settings import ApiSettings
from provisioner.api.signing import sign
from provisioner.exceptions import ApiError, InsufficientCapacityError, ParamError, PermissionDeniedError
from provisioner.services.principal import Caller, RoleType

ADMIN = Caller(
    user_id="3d8e1f7a-0000-4000-8000-000000000001",
    username="admin",
    account_id="3d8e1f7a-0000-4000-8000-000000000002",
    account_name="admin",
    domain_id="3d8e1f7a-0000-4000-8000-000000000003",
    domain_path="/",
    role_id="3d8e1f7a-0000-4000-8000-000000000004",
    role_type=RoleType.ADMIN,
)
USER = Caller(
    user_id="3d8e1f7a-0000-4000-8000-000000000011",
    username="alice",
    account_id="3d8e1f7a-0000-4000-8000-000000000012",
    account_name="alice",
    domain_id=ADMIN.domain_id,
    domain_path="/",
    role_id="3d8e1f7a-0000-4000-8000-000000000014",
    role_type=RoleType.USER,
)
ADMIN_KEY, ADMIN_SECRET = "admin-api-key", "admin-secret-key"
USER_KEY, USER_SECRET = "user-api-key", "user-secret-key"
PASSWORDS = {("/", "admin"): ("password", ADMIN), ("/", "alice"): ("wonderland", USER)}


@dataclass
class Job:
    """A queued async command."""

    caller: Caller
    command: str
    params: dict[str, Value]
    instance_id: str | None
    status: int = 0
    resultcode: int = 0
    result: dict[str, Any] | None = None


@dataclass
class MemoryBackend:
    """The services side of the API, in memory."""

    registry: Registry
    settings: ApiSettings
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, Caller] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    denied: set[tuple[str, str]] = field(default_factory=set)  # (role type, command) deny rules

    def find_api_key(self, apikey: str) -> tuple[str, Caller] | None:
        return {ADMIN_KEY: (ADMIN_SECRET, ADMIN), USER_KEY: (USER_SECRET, USER)}.get(apikey)

    def login(self, username: str, password: str, domain_path: str | None, domain_id: str | None) -> Caller:
        found = PASSWORDS.get((domain_path or "/", username))
        if found is None or not secrets.compare_digest(found[0], password):
            raise PermissionDeniedError(
                f"Failed to authenticate user {username} in domain {domain_id or domain_path}; "
                "please provide valid credentials"
            )
        return found[1]

    def create_session(self, caller: Caller) -> str:
        key = secrets.token_urlsafe(20)
        self.sessions[key] = caller
        return key

    def resolve_session(self, sessionkey: str) -> Caller | None:
        return self.sessions.get(sessionkey)

    def end_session(self, sessionkey: str) -> None:
        self.sessions.pop(sessionkey, None)

    def is_allowed(self, caller: Caller, command: str, default_roles: frozenset[RoleType]) -> bool:
        if (caller.role_type.value, command) in self.denied:
            return False
        return caller.is_root_admin or caller.role_type in default_roles

    def resolve_ids(self, wanted: Mapping[str, list[str]]) -> dict[str, set[str]]:
        return {kind: {i for i in ids if i in self.zones} if kind == "Zone" else set() for kind, ids in wanted.items()}

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
        jobid = job_uuid or str(uuid.uuid4())
        if jobid in self.jobs:
            raise ParamError(f"A job with id {jobid} already exists")
        self.jobs[jobid] = Job(caller, command, dict(params), instance_id)
        return jobid

    def system_caller(self) -> Caller:
        return ADMIN

    def query_job(self, caller: Caller, jobid: str) -> Mapping[str, Any]:
        # Runs a queued job on its first poll: deterministic, no worker threads.
        if jobid not in self.jobs:
            raise ParamError(f"Unable to find job by id {jobid}")
        job = self.run_job(jobid)
        if job.caller != caller and not caller.is_root_admin:
            raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to see job {jobid}")
        return self._view(jobid, job)

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
        rows = [self._view(i, j) for i, j in self.jobs.items() if caller.is_root_admin or j.caller == caller]
        end = None if page.limit is None else page.offset + page.limit
        return len(rows), rows[page.offset : end]

    @staticmethod
    def _view(jobid: str, job: Job) -> dict[str, Any]:
        view: dict[str, Any] = {
            "jobid": jobid,
            "cmd": job.command,
            "userid": job.caller.user_id,
            "accountid": job.caller.account_id,
            "account": job.caller.account_name,
            "jobstatus": job.status,
            "jobprocstatus": 0,
            "jobresultcode": job.resultcode,
            "created": "2026-11-23T12:00:00+0000",
        }
        if job.status:
            view.update(jobresulttype="object", jobresult=job.result, completed="2026-11-23T12:00:01+0000")
        return view

    def run_job(self, jobid: str) -> Job:
        """Run a queued job now (what a worker does), recording its result."""
        job = self.jobs[jobid]
        if job.status == 0:
            try:
                job.result = self.registry.execute_async(
                    self, self.settings, job.caller, job.command, job.params, instance_id=job.instance_id
                )
                job.status = 1
            except ApiError as exc:
                job.status, job.resultcode, job.result = 2, exc.errorcode, job_error(exc)
        return job


class ZoneResponse(ResponseModel):
    """A demo zone."""

    id: str = Field(description="the zone id")
    name: str = Field(description="the zone name")
    allocationstate: str = Field(default="Disabled", description="Enabled or Disabled")
    cpunumber: int = Field(default=4, description="a number, as Go clients decode it")
    securitygroupsenabled: bool = Field(default=False, description="a boolean")
    dns2: str | None = Field(default=None, description="omitted when unset")
    created: CsDateTime = Field(description="creation date")
    details: dict[str, str] | None = Field(default=None, description="string to string details")


class ListDemoZonesParams(BaseListParams):
    """Demo list parameters."""

    id: str | None = param("the zone id", entity="Zone")
    ids: list[str] | None = param("zone ids", entity="Zone")
    name: str | None = param("the zone name")
    available: bool | None = param("a boolean filter")


class CreateDemoZoneParams(BaseParams):
    """Demo create parameters."""

    name: str = param("the zone name", required=True, length=64)
    dns1: str = param("first DNS", required=True)
    cpunumber: int | None = param("a number", type="long")
    details: list[dict[str, str]] | None = param("details as a map", since="4.2")


class IdParams(BaseParams):
    """A single required zone id."""

    id: str = param("the zone id", required=True, entity="Zone")


class UpdateDemoZoneParams(IdParams):
    """Demo async update."""

    allocationstate: str | None = param("Enabled or Disabled")


class VmResponse(ResponseModel):
    """A demo VM."""

    id: str = Field(description="the vm id")
    name: str = Field(description="the vm name")
    state: str = Field(description="the vm state")


class DeployDemoVmParams(BaseParams):
    """Demo async-create."""

    zoneid: str = param("the zone", required=True, entity="Zone")
    name: str | None = param("the vm name")


def _memory(ctx: CommandContext) -> MemoryBackend:
    backend = ctx.backend
    assert isinstance(backend, MemoryBackend)
    return backend


def _zone(data: dict[str, Any]) -> ZoneResponse:
    return ZoneResponse(**data)


def demo_registry(*, failures: bool = True) -> Registry:
    """The protocol commands plus the demo commands, in a registry of its own.

    Args:
        failures: also register ``failDemo`` and ``crashDemo`` (commands that fail on purpose).
    """
    registry = load_commands().copy()
    admin_user = {RoleType.ADMIN, RoleType.USER}

    @registry.api_command(
        "listDemoZones",
        params=ListDemoZonesParams,
        response=ZoneResponse,
        response_key="zone",
        list=True,
        since="4.0.0",
        authorized=admin_user,
        related="createDemoZone",
    )
    def list_zones(ctx: CommandContext, params: ListDemoZonesParams) -> ListResult[ZoneResponse]:
        """Lists demo zones."""
        backend = _memory(ctx)
        rows = sorted(backend.zones.values(), key=lambda z: z["name"])
        if params.id:
            rows = [z for z in rows if z["id"] == params.id]
        if params.ids:
            rows = [z for z in rows if z["id"] in params.ids]
        if params.name:
            rows = [z for z in rows if z["name"] == params.name]
        end = None if ctx.page.limit is None else ctx.page.offset + ctx.page.limit
        return ListResult([_zone(z) for z in rows[ctx.page.offset : end]], len(rows))

    @registry.api_command(
        "createDemoZone",
        params=CreateDemoZoneParams,
        response=ZoneResponse,
        response_key="zone",
        authorized={RoleType.ADMIN},
    )
    def create_zone(ctx: CommandContext, params: CreateDemoZoneParams) -> ZoneResponse:
        """Creates a demo zone."""
        backend = _memory(ctx)
        if any(z["name"] == params.name for z in backend.zones.values()):
            raise ParamError(f"A zone with name {params.name} already exists")
        details = {k: v for entry in params.details or [] for k, v in [(entry.get("key", ""), entry.get("value", ""))]}
        zone_id = str(uuid.uuid4())
        zone: dict[str, Any] = {
            "id": zone_id,
            "name": params.name,
            "created": datetime(2024, 5, 1, 10, tzinfo=UTC),
            "cpunumber": params.cpunumber or 4,
            "details": details or None,
        }
        backend.zones[zone_id] = zone
        return _zone(zone)

    @registry.api_command("deleteDemoZone", params=IdParams, response=SuccessResponse, authorized={RoleType.ADMIN})
    def delete_zone(ctx: CommandContext, params: IdParams) -> None:
        """Deletes a demo zone."""
        _memory(ctx).zones.pop(params.id)

    @registry.api_command(
        "updateDemoZone",
        params=UpdateDemoZoneParams,
        response=ZoneResponse,
        response_key="zone",
        is_async=True,
        entity_type="Zone",
        authorized={RoleType.ADMIN},
    )
    def update_zone(ctx: CommandContext, params: UpdateDemoZoneParams) -> ZoneResponse:
        """Updates a demo zone, asynchronously."""
        zone = _memory(ctx).zones[params.id]
        if params.allocationstate:
            zone["allocationstate"] = params.allocationstate
        return _zone(zone)

    @registry.api_command(
        "deployDemoVm",
        params=DeployDemoVmParams,
        response=VmResponse,
        response_key="virtualmachine",
        is_async=True,
        create=True,
        entity_type="VirtualMachine",
    )
    def deploy(ctx: CommandContext, params: DeployDemoVmParams) -> VmResponse:
        """Deploys a demo VM."""
        return VmResponse(id=ctx.entity_id or "", name=params.name or "vm", state="Running")

    @registry.create_step("deployDemoVm")
    def allocate(ctx: CommandContext, params: DeployDemoVmParams) -> str:
        return str(uuid.uuid4())

    if failures:
        _register_failures(registry)

    return registry


def _register_failures(registry: Registry) -> None:
    @registry.api_command("failDemo", params=BaseParams, response=SuccessResponse, is_async=True)
    def fail(ctx: CommandContext, params: BaseParams) -> None:
        """Always fails with 533."""
        raise InsufficientCapacityError("no host has room for it")

    @registry.api_command("crashDemo", params=BaseParams, response=SuccessResponse)
    def crash(ctx: CommandContext, params: BaseParams) -> None:
        """Raises an unexpected error (a bug)."""
        raise RuntimeError("secret internals")


def make_backend(settings: ApiSettings | None = None, registry: Registry | None = None) -> MemoryBackend:
    """A fresh in-memory backend over the demo registry (or ``registry``)."""
    return MemoryBackend(registry=registry or demo_registry(), settings=settings or ApiSettings())


def signed(command: str, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET, **params: str) -> dict[str, str]:
    """Request parameters for ``command`` (JSON), signed the server's way with ``key``/``secret``."""
    query = {"command": command, "response": "json", "apiKey": key, **params}
    return {**query, "signature": sign(query, secret)}


@dataclass
class LiveServer:
    """A uvicorn server running the API app in a thread of this process."""

    url: str
    backend: MemoryBackend


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_api(settings: ApiSettings, registry: Registry | None = None) -> Iterator[LiveServer]:
    """Run the API app under uvicorn on a free loopback port in a thread; yields, then stops it."""
    backend = make_backend(settings, registry)
    port = _free_port()
    config = uvicorn.Config(
        create_app(backend, settings, backend.registry),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # bounded: 10 s
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}/client/api", backend)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
