"""Run the management server under uvicorn, with a graceful shutdown that drains jobs first.

On the first SIGTERM or Ctrl-C the API keeps answering while the job side drains (new async commands get
503, running jobs finish or time out, clients can still poll them); then uvicorn stops. A second Ctrl-C
stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Generator
from types import FrameType

import uvicorn

from provisioner.server.app import ServerLifecycle

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """A uvicorn server whose signals :func:`serve` handles (uvicorn would re-raise them on exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _Shutdown:
    """Drains the lifecycle on the first signal, then tells every uvicorn server to exit."""

    def __init__(self, lifecycle: ServerLifecycle, servers: list[_Server]) -> None:
        self.lifecycle = lifecycle
        self.servers = servers
        self._begun = threading.Event()

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._begun.is_set():
            if signum == signal.SIGINT:  # a second Ctrl-C: stop now
                for server in self.servers:
                    server.should_exit = server.force_exit = True
            return
        self._begun.set()
        log.info("shutting down: no new jobs; waiting for running jobs")
        threading.Thread(target=self._drain_then_exit, name="shutdown", daemon=True).start()

    def _drain_then_exit(self) -> None:
        try:
            self.lifecycle.drain()
        finally:
            for server in self.servers:
                server.should_exit = True


def serve(lifecycle: ServerLifecycle, app_config: uvicorn.Config, integration: uvicorn.Config | None = None) -> None:
    """Serve the API (and the integration API when configured) until a signal ends a graceful shutdown.

    Args:
        lifecycle: the server's lifecycle (the app's lifespan starts and stops it).
        app_config: uvicorn settings of the API app.
        integration: uvicorn settings of the integration app, or None.
    """
    servers = [_Server(app_config)] + ([_Server(integration)] if integration else [])
    shutdown = _Shutdown(lifecycle, servers)
    previous = {sig: signal.signal(sig, shutdown.handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    async def main() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    # What is loaded by now (modules, models, the command registry: ~130,000 objects) lives as long as the
    # process: keep it out of the cyclic collector, whose full passes over it stalled requests for tens of
    # milliseconds (the p99 of a 500-row list). Only here, in the server process, not where tests build apps.
    gc.freeze()
    try:
        asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lifecycle.stop()  # idempotent; covers a failed start
    log.info("management server stopped")
