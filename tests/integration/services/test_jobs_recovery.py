"""kill -9 of a server mid-job: the job fails with 530 and the reconciler returns the VM to Stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from provisioner.db.schema import async_job, mshost, utcnow
from provisioner.services.jobs import RESTART_TEXT, FailedJob, JobService, JobWorkerPool, PoolSettings, RunningJob
from provisioner.services.principal import Caller

REPO = Path(__file__).resolve().parents[3]
CHILD_MSID = 4242


def _wait(predicate: object, timeout: float = 30.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _vm_state(engine: Engine, vm: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT state FROM test_vm WHERE uuid = :id"), {"id": vm}).scalar_one())


def stop_starting_vm(conn: Connection, job: FailedJob) -> None:
    """The test reconciler: a VM left Starting goes back to Stopped."""
    conn.execute(
        text("UPDATE test_vm SET state = 'Stopped' WHERE uuid = :id AND state = 'Starting'"), {"id": job.instance_id}
    )


def _never(job: RunningJob) -> object:
    raise AssertionError(f"job {job.id} must not run again")


@pytest.mark.integration
@pytest.mark.parametrize("restart", ["same-node", "peer-node"])
def test_kill_9_mid_job(db_engine: Engine, db_url: str, admin: Caller, tmp_path: Path, restart: str) -> None:
    vm = str(uuid.uuid4())
    with db_engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_vm (uuid VARCHAR(36) PRIMARY KEY, state VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO test_vm (uuid, state) VALUES (:id, 'Stopped')"), {"id": vm})
    job_id = JobService(db_engine).submit(
        admin, "startVirtualMachine", {"id": vm}, instance_type="VirtualMachine", instance_id=vm
    )

    marker = tmp_path / "started"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.services.job_child", db_url, str(CHILD_MSID), str(marker)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        _wait(marker.exists)
        assert _vm_state(db_engine, vm) == "Starting"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    with db_engine.connect() as conn:
        row = conn.execute(select(async_job).where(async_job.c.uuid == job_id)).one()
        assert (row.status, row.owner_msid) == (0, CHILD_MSID)
        assert conn.execute(select(mshost.c.state).where(mshost.c.msid == CHILD_MSID)).scalar_one() == "Up"

    msid = CHILD_MSID if restart == "same-node" else CHILD_MSID + 1
    settings = PoolSettings(workers=1, poll_interval=0.05, heartbeat_interval=0.1, dead_after=1.0, lease_seconds=30)
    pool = JobWorkerPool(
        db_engine, _never, msid=msid, settings=settings, reconcilers={"VirtualMachine": stop_starting_vm}
    )
    failed = pool.start()
    try:
        if restart == "same-node":
            assert failed == [job_id]  # a restarted node fails its own leftovers at once
        jobs = JobService(db_engine, pool)
        _wait(lambda: jobs.query(admin, job_id).jobstatus == 2, timeout=15)
    finally:
        pool.stop(timeout=5)
    view = jobs.query(admin, job_id).as_response()
    assert view["jobresultcode"] == 530
    assert view["jobresult"] == {"errorcode": 530, "errortext": RESTART_TEXT}
    assert _vm_state(db_engine, vm) == "Stopped"
    if restart == "peer-node":
        with db_engine.connect() as conn:
            # Liveness came from the stale heartbeat, not from the stored "Up".
            assert conn.execute(select(mshost.c.state).where(mshost.c.msid == CHILD_MSID)).scalar_one() == "Down"


def test_a_failing_reconciler_does_not_block_recovery(db_engine: Engine, admin: Caller) -> None:
    def broken(conn: Connection, job: FailedJob) -> None:
        conn.execute(text("UPDATE mshost SET name = 'changed'"))  # rolled back with the savepoint
        raise RuntimeError("secret=abc")

    jobs = JobService(db_engine)
    job_id = jobs.submit(admin, "startVirtualMachine", {}, instance_type="VirtualMachine", instance_id="vm-1")
    pool = JobWorkerPool(db_engine, _never, msid=7, reconcilers={"VirtualMachine": broken})
    with db_engine.begin() as conn:
        conn.execute(mshost.insert().values(msid=7, runid=1, name="old", version="0", last_heartbeat=utcnow()))
        conn.execute(async_job.update().where(async_job.c.uuid == job_id).values(owner_msid=7))
    assert pool.recover(include_own=True) == [job_id]
    assert jobs.query(admin, job_id).jobresultcode == 530
    with db_engine.connect() as conn:
        assert conn.execute(select(mshost.c.name).where(mshost.c.msid == 7)).scalar_one() == "old"
