"""Assemble the management server: database, services, the API app and the job pool's lifecycle.

``build_server`` prepares the database (migrations, first-start seed) and returns the Starlette app and a
:class:`ServerLifecycle`. The app's lifespan starts the lifecycle (job workers, the ``mshost`` heartbeat and
recovery of dead peers' jobs) and stops it; a graceful shutdown first calls :meth:`ServerLifecycle.drain`
while the API still answers, so clients can poll the jobs that finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.routing import Mount

from provisioner import __version__
from provisioner.api.app import create_app
from provisioner.api.commands import load_commands
from provisioner.api.registry import Registry
from provisioner.api.settings import ApiSettings
from provisioner.db.engine import create_engine_for, run_in_transaction
from provisioner.server.api_settings import configured_api_settings
from provisioner.server.backend import DatabaseBackend
from provisioner.server.background import BackgroundRunner, load_tasks
from provisioner.server.bootstrap import prepare_database
from provisioner.server.extract import extract_route
from provisioner.services.configuration import config_value
from provisioner.services.identity import IdentityService
from provisioner.services.jobs import JobService, JobWorkerPool, PoolSettings, RunningJob, default_msid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How this node runs its jobs.

    Attributes:
        workers: job worker threads of this process (the API itself runs in one uvicorn process; more
            capacity comes from more ``provisioner serve`` processes on one PostgreSQL).
        port: the API port; with the MAC address it makes this node's ``msid``, stable across restarts.
        host: the bound address, recorded in ``mshost``.
        shutdown_timeout: seconds running jobs get to finish on a graceful shutdown.
        registry: the commands to serve (default: every module in ``COMMAND_MODULES``).
    """

    workers: int = 4
    port: int = 8080
    host: str = "127.0.0.1"
    shutdown_timeout: float = 30.0
    registry: Registry | None = None


class ServerLifecycle:
    """Starts and stops one node's background work; also holds what the CLI reports.

    Attributes:
        backend: the API backend (its services).
        pool: this node's job worker pool.
        credentials_file: the admin credentials file when this start created the admin, else None.
        settings: the API settings.
        registry: the served commands.
    """

    def __init__(
        self,
        engine: Engine,
        backend: DatabaseBackend,
        pool: JobWorkerPool,
        *,
        settings: ApiSettings,
        registry: Registry,
        shutdown_timeout: float,
        credentials_file: Path | None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.pool = pool
        self.settings = settings
        self.registry = registry
        self.shutdown_timeout = shutdown_timeout
        self.credentials_file = credentials_file
        self.background = BackgroundRunner(engine, pool.msid, load_tasks())
        self._state_lock = threading.Lock()
        self._started = False
        self._drained = False

    def start(self) -> None:
        """Start the pool: register in ``mshost``, fail this node's leftovers, heartbeat, workers."""
        with self._state_lock:
            if self._started:
                return
            self._started = True
        failed = self.pool.start()
        if failed:
            log.warning("failed %d job(s) left running by this node's previous run", len(failed))
        self.background.start()

    def drain(self, timeout: float | None = None) -> list[str]:
        """Graceful shutdown of the job side: refuse new async commands, let running jobs finish.

        Jobs still running after ``timeout`` (default ``shutdown_timeout``) are failed with 530 and their
        resources reconciled; jobs not yet claimed stay queued for another node or the next start.

        Returns:
            The ids of the jobs failed because they did not finish in time.
        """
        with self._state_lock:
            if self._drained:
                return []
            self._drained = True
        self.backend.accepting_jobs = False
        if not self._started:
            return []
        self.background.stop()
        failed = self.pool.stop(self.shutdown_timeout if timeout is None else timeout)
        if failed:
            log.warning("failed %d job(s) still running at shutdown", len(failed))
        return failed

    def stop(self) -> None:
        """Drain (when not done yet) and release the database."""
        self.drain()
        self.engine.dispose()

    def integration_app(self) -> Starlette:
        """The unauthenticated integration API (``integration.api.port``) over the same backend; loopback only."""
        values: dict[str, Any] = {**self.settings.model_dump(), "integration": True, "bind_host": "127.0.0.1"}
        return create_app(self.backend, ApiSettings(**values), self.registry)


def _pool_settings(engine: Engine, options: ServerOptions) -> PoolSettings:
    """Heartbeat timing from ``cluster.heartbeat.interval`` / ``.threshold`` (milliseconds), as CloudStack."""

    def seconds(name: str, default: float) -> float:
        value = run_in_transaction(engine, lambda conn: config_value(conn, name))
        try:
            return float(value) / 1000 if value else default
        except ValueError:
            return default

    return PoolSettings(
        workers=options.workers,
        heartbeat_interval=seconds("cluster.heartbeat.interval", 1.5),
        dead_after=seconds("cluster.heartbeat.threshold", 150.0),
        shutdown_timeout=options.shutdown_timeout,
    )


def build_server(
    db_url: str | None, settings: ApiSettings, options: ServerOptions | None = None
) -> tuple[Starlette, ServerLifecycle]:
    """Prepare the database and build the app and its lifecycle.

    Args:
        db_url: the database URL, or None for the embedded SQLite database in the data directory.
        settings: the API settings.
        options: job workers, port and shutdown timeout.

    Returns:
        The ASGI app (its lifespan starts and stops the lifecycle) and the lifecycle.
    """
    options = options or ServerOptions()
    # API threads (anyio's default pool of 40) and job workers share the connection pool.
    engine = create_engine_for(db_url, pool_size=10 + options.workers)
    log.info("database: %s", engine.url.render_as_string(hide_password=True))
    credentials_file = prepare_database(engine)
    settings = run_in_transaction(engine, lambda conn: configured_api_settings(conn, settings))
    registry = options.registry or load_commands()
    identity = IdentityService.for_engine(engine, session_timeout=settings.session_timeout)

    def execute(job: RunningJob) -> Any:
        # ``backend`` is bound below (it needs the pool); jobs only run once the lifecycle has started.
        return registry.execute_async(backend, settings, job.caller, job.cmd, job.params, instance_id=job.instance_id)

    pool = JobWorkerPool(
        engine,
        execute,
        msid=default_msid(options.port),
        settings=_pool_settings(engine, options),
        name=f"provisioner@{options.host}:{options.port}",
        version=__version__,
        service_ip=options.host,
        service_port=options.port,
    )
    backend = DatabaseBackend(engine, identity, JobService(engine, pool))
    lifecycle = ServerLifecycle(
        engine,
        backend,
        pool,
        settings=settings,
        registry=registry,
        shutdown_timeout=options.shutdown_timeout,
        credentials_file=credentials_file,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        lifecycle.start()
        try:
            yield
        finally:
            lifecycle.stop()

    api = create_app(backend, settings, registry)
    return Starlette(routes=[extract_route(engine), Mount("/", app=api)], lifespan=lifespan), lifecycle
