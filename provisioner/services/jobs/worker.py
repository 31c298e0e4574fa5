"""The worker pool: threads that claim jobs from the database, run them and record the outcome."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import utcnow
from provisioner.exceptions import ApiError
from provisioner.services.configuration import config_value
from provisioner.services.identity.auth import caller_for_user
from provisioner.services.jobs import recovery, store
from provisioner.services.jobs.models import JobStatus, RunningJob
from provisioner.services.principal import Caller

log = logging.getLogger(__name__)

#: Runs one job and returns its JSON-serialisable result: a dict is an "object" result, anything
#: else "text". Raising an ApiError fails the job with that error's code and text.
Executor = Callable[[RunningJob], Any]

INTERNAL_TEXT = "Internal error executing command, please contact your system administrator"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Timing of one node's pool; the defaults follow CloudStack where it has a setting."""

    workers: int = 4
    poll_interval: float = 0.5
    heartbeat_interval: float = 1.5  # cluster.heartbeat.interval
    dead_after: float = 150.0  # cluster.heartbeat.threshold
    lease_seconds: float = 60.0
    maintenance_interval: float = 30.0  # job GC and queue timeouts
    shutdown_timeout: float = 30.0


class JobWorkerPool:
    """One management server's job runner.

    Start order: register in ``mshost``, fail this node's leftovers from a previous run (their
    reconcilers run), then start the heartbeat thread and the workers.

    Shutdown (:meth:`stop`): no new claims; running jobs get ``shutdown_timeout`` seconds to
    finish. Jobs still running after that are failed with 530 and reconciled, as after a crash,
    because half-done side effects are not safe to run again. Jobs never claimed stay pending
    for another node or the next start. Nothing is claimed ahead of a free worker, so there is
    nothing else to hand back.

    Args:
        engine: the shared database.
        executor: runs a job (the API layer plugs its command registry in here).
        msid: this node's id (see ``recovery.default_msid``); a restart must reuse it.
        settings: worker count and timings.
        reconcilers: per ``instance_type`` reconcilers (default: the global registry).
        name: the node name shown in ``mshost``.
    """

    def __init__(
        self,
        engine: Engine,
        executor: Executor,
        *,
        msid: int,
        settings: PoolSettings | None = None,
        reconcilers: dict[str, recovery.Reconciler] | None = None,
        name: str = "provisioner",
        version: str = "0.1.0",
        service_ip: str = "127.0.0.1",
        service_port: int = 0,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.msid = msid
        self.settings = settings or PoolSettings()
        self.reconcilers = reconcilers
        self._node = (name, version, service_ip, service_port)
        self._stopping = threading.Event()  # workers: no new claims
        self._stop_beating = threading.Event()  # heartbeat: set only once the workers are done
        self._wake = threading.Condition()
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Register the node, recover its leftovers and start the threads; returns the jobs it failed."""
        name, version, ip, port = self._node
        run_in_transaction(
            self.engine,
            lambda c: recovery.register_node(
                c, self.msid, name=name, version=version, service_ip=ip, service_port=port
            ),
        )
        failed = self.recover(include_own=True)
        self._threads = [threading.Thread(target=self._heartbeat_loop, name=f"jobs-hb-{self.msid}", daemon=True)]
        self._threads += [
            threading.Thread(target=self._worker_loop, name=f"jobs-{self.msid}-{i}", daemon=True)
            for i in range(self.settings.workers)
        ]
        for thread in self._threads:
            thread.start()
        return failed

    def stop(self, timeout: float | None = None) -> list[str]:
        """Stop claiming, wait for running jobs, fail the ones still running; returns those failed."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + (self.settings.shutdown_timeout if timeout is None else timeout)
        # Leases keep being renewed while running jobs finish, so no peer fails them meanwhile.
        for thread in self._threads[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._stop_beating.set()
        if self._threads:
            self._threads[0].join(max(1.0, deadline - time.monotonic()))
        with self._lock:
            leftover = bool(self._running)
        failed: list[str] = []
        if leftover:
            failed = self.recover(include_own=True)
        run_in_transaction(self.engine, lambda c: recovery.heartbeat(c, self.msid, state="Down"))
        return failed

    def is_alive(self) -> bool:
        """True while any of the pool's threads still runs (a job may outlive :meth:`stop`)."""
        return any(thread.is_alive() for thread in self._threads)

    def notify(self) -> None:
        """Wake an idle worker now (after a local submit) instead of at the next poll.

        One per submitted job: waking them all made every idle worker claim and find nothing.
        """
        with self._wake:
            self._wake.notify()

    def recover(self, include_own: bool = False) -> list[str]:
        """Fail jobs of dead nodes (and this node's, when ``include_own``) and reconcile their resources."""

        def work(conn: Any) -> list[str]:
            dead = recovery.dead_nodes(conn, self.msid, self.settings.dead_after)
            return recovery.fail_orphans(
                conn, own_msid=self.msid, include_own=include_own, dead_msids=dead, reconcilers=self.reconcilers
            )

        failed = run_in_transaction(self.engine, work)
        if failed:
            log.warning("failed %d job(s) left by a stopped or dead management server", len(failed))
        return failed

    # -- threads -----------------------------------------------------------------------------

    def _worker_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = run_in_transaction(self.engine, self._claim)
            except Exception:
                log.exception("claiming jobs failed")
                claimed = []
            if not claimed:
                with self._wake:
                    self._wake.wait(self.settings.poll_interval)
                continue
            for job_id, row, caller in claimed:
                try:
                    self._run(job_id, row, caller)
                except Exception:
                    # Recording the outcome failed (database gone?): the lease runs out and recovery fails it.
                    log.exception("recording the outcome of job %d failed", job_id)

    def _claim(self, conn: Any) -> list[tuple[int, Any, Caller | None]]:
        """Claim a job and read it and its submitter in the same transaction (one round of BEGIN/COMMIT)."""
        claimed = []
        for job_id in store.claim(conn, self.msid, self.settings.lease_seconds, limit=1):
            row = store.load_running(conn, job_id)
            claimed.append((job_id, row, caller_for_user(conn, row.user_uuid)))
        return claimed

    def _heartbeat_loop(self) -> None:
        last_maintenance = 0.0
        while not self._stop_beating.wait(self.settings.heartbeat_interval):
            try:
                run_in_transaction(self.engine, self._beat)
                self.recover()
                if time.monotonic() - last_maintenance >= self.settings.maintenance_interval:
                    last_maintenance = time.monotonic()
                    run_in_transaction(self.engine, purge_finished)
                    run_in_transaction(self.engine, cancel_stale_waiting)
            except Exception:
                log.exception("job heartbeat failed")

    def _beat(self, conn: Any) -> None:
        with self._lock:
            running = list(self._running)
        recovery.heartbeat(conn, self.msid)
        store.renew_leases(conn, self.msid, running, self.settings.lease_seconds)

    # -- one job -----------------------------------------------------------------------------

    def _run(self, job_id: int, row: Any, caller: Caller | None) -> None:
        with self._lock:
            self._running.add(job_id)
        try:
            status, code, result, kind = self._execute(job_id, row, caller)
            stored = run_in_transaction(
                self.engine,
                lambda c: store.finish(
                    c, job_id, self.msid, status=status, result_code=code, result=result, result_type=kind
                ),
            )
            if not stored:
                log.warning("job %d finished after it was taken away from this node; result dropped", job_id)
        finally:
            with self._lock:
                self._running.discard(job_id)

    def _execute(self, job_id: int, row: Any, caller: Caller | None) -> tuple[JobStatus, int, Any, str]:
        try:
            if caller is None:
                raise ApiError("The user who submitted this job is no longer enabled")
            job = RunningJob(row.uuid, row.cmd, dict(row.params or {}), caller, row.instance_type, row.instance_id)
            result = self.executor(job)
            encoded = json.loads(json.dumps(result))  # store exactly what clients will read back
        except ApiError as exc:
            return JobStatus.FAILED, exc.errorcode, {"errorcode": exc.errorcode, "errortext": exc.errortext}, "object"
        except Exception as exc:
            # The text may hold anything (even secrets): neither the job row nor the log gets it.
            recovery.log_failure(f"job {job_id} failed", exc)
            return JobStatus.FAILED, 530, {"errorcode": 530, "errortext": INTERNAL_TEXT}, "object"
        kind = "object" if isinstance(encoded, dict) else "text"
        return JobStatus.SUCCEEDED, 0, encoded, kind


def cancel_stale_waiting(conn: Any) -> list[str]:
    """Fail jobs queued behind another for longer than ``job.cancel.threshold.minutes``."""
    minutes = float(config_value(conn, "job.cancel.threshold.minutes") or 60)
    return store.cancel_stale_waiting(conn, utcnow() - timedelta(minutes=minutes), minutes)


def purge_finished(conn: Any) -> int:
    """Delete jobs finished more than ``job.expire.minutes`` ago."""
    minutes = float(config_value(conn, "job.expire.minutes") or 1440)
    return store.purge_expired(conn, utcnow() - timedelta(minutes=minutes))
