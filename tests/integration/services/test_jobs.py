"""Async jobs: results, per-resource order, two servers on one database, visibility, shutdown, GC."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from provisioner.db.schema import async_job, utcnow
from provisioner.exceptions import InsufficientCapacityError, ParamError, PermissionDeniedError
from provisioner.services.identity import IdentityService
from provisioner.services.jobs import JobService, JobWorkerPool, PoolSettings, RunningJob
from provisioner.services.jobs.worker import INTERNAL_TEXT, cancel_stale_waiting, purge_finished
from provisioner.services.principal import Caller
from tests.unit.services.helpers import make_account, make_domain

pytestmark = pytest.mark.integration
FAST = PoolSettings(workers=4, poll_interval=0.05, heartbeat_interval=0.1, dead_after=5.0, lease_seconds=5.0)


def wait_done(jobs: JobService, caller: Caller, job_id: str, timeout: float = 20.0) -> dict[str, object]:
    """Poll like a client until the job finishes (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = jobs.query(caller, job_id)
        if view.jobstatus != 0:
            return view.as_response()
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def executor(job: RunningJob) -> object:
    """Commands for the tests, dispatched on the job's command name."""
    if job.cmd == "ok":
        return {"thing": {"id": job.instance_id, "by": job.caller.username}}
    if job.cmd == "text":
        return "done"
    if job.cmd == "capacity":
        raise InsufficientCapacityError("Unable to create a deployment for VM")
    if job.cmd == "sleep":
        time.sleep(float(job.params["seconds"]))
        return {"success": True}
    raise RuntimeError("password=hunter2 leaked into an exception")


@pytest.fixture
def pool(db_engine: Engine, identity: IdentityService) -> Iterator[JobWorkerPool]:
    running = JobWorkerPool(db_engine, executor, msid=1, settings=FAST, reconcilers={})
    running.start()
    yield running
    running.stop(timeout=10)


def test_results(pool: JobWorkerPool, admin: Caller, caplog: pytest.LogCaptureFixture) -> None:
    jobs = JobService(pool.engine, pool)
    ok = wait_done(jobs, admin, jobs.submit(admin, "ok", {}, instance_type="Thing", instance_id="t-1"))
    assert ok["jobstatus"] == 1 and ok["jobresultcode"] == 0 and ok["jobresulttype"] == "object"
    assert ok["jobresult"] == {"thing": {"id": "t-1", "by": "admin"}}
    assert (ok["jobinstancetype"], ok["jobinstanceid"], ok["cmd"]) == ("Thing", "t-1", "ok")
    assert ok["userid"] == admin.user_id and ok["accountid"] == admin.account_id and ok["account"] == "admin"
    assert str(ok["created"]).endswith("+0000") and str(ok["completed"]).endswith("+0000")

    text = wait_done(jobs, admin, jobs.submit(admin, "text", {}))
    assert (text["jobresulttype"], text["jobresult"]) == ("text", "done")

    capacity = wait_done(jobs, admin, jobs.submit(admin, "capacity", {}))
    assert capacity["jobstatus"] == 2 and capacity["jobresultcode"] == 533
    assert capacity["jobresult"] == {"errorcode": 533, "errortext": "Unable to create a deployment for VM"}

    boom = wait_done(jobs, admin, jobs.submit(admin, "boom", {}))
    assert boom["jobresultcode"] == 530 and boom["jobresult"] == {"errorcode": 530, "errortext": INTERNAL_TEXT}
    assert "hunter2" not in str(boom)
    assert "RuntimeError" in caplog.text and "hunter2" not in caplog.text


def test_pending_job_shape(db_engine: Engine, admin: Caller) -> None:
    jobs = JobService(db_engine)  # no pool: the job stays pending
    view = jobs.query(admin, jobs.submit(admin, "ok", {}, job_uuid="0F6F6A8C-1111-4222-8333-444455556666"))
    response = view.as_response()
    assert response["jobid"] == "0f6f6a8c-1111-4222-8333-444455556666"
    assert response["jobstatus"] == 0 and response["jobresultcode"] == 0
    assert "jobresult" not in response and "jobresulttype" not in response
    with pytest.raises(ParamError):
        jobs.submit(admin, "ok", {}, job_uuid="0f6f6a8c-1111-4222-8333-444455556666")


def test_one_resource_at_a_time_in_submission_order(db_engine: Engine, admin: Caller) -> None:
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def timed(job: RunningJob) -> object:
        start = time.monotonic()
        time.sleep(0.3)
        with lock:
            spans[job.params["n"]] = (start, time.monotonic())
        return {"success": True}

    pool = JobWorkerPool(db_engine, timed, msid=1, settings=FAST, reconcilers={})
    jobs = JobService(db_engine, pool)
    ids = [
        jobs.submit(admin, "op", {"n": f"a{i}"}, instance_type="VirtualMachine", instance_id="vm-a") for i in range(3)
    ]
    ids.append(jobs.submit(admin, "op", {"n": "b0"}, instance_type="VirtualMachine", instance_id="vm-b"))
    pool.start()
    try:
        for job_id in ids:
            assert wait_done(jobs, admin, job_id)["jobstatus"] == 1
    finally:
        pool.stop(timeout=10)
    a = [spans[f"a{i}"] for i in range(3)]
    assert a[0][1] <= a[1][0] and a[1][1] <= a[2][0]  # one at a time, oldest first
    assert spans["b0"][0] < a[0][1]  # another VM's job ran alongside


def test_two_servers_never_run_a_job_twice(db_engine: Engine, admin: Caller) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def record(job: RunningJob) -> object:
        with lock:
            runs.append(job.id)
        time.sleep(0.01)
        return {"success": True}

    pools = [JobWorkerPool(db_engine, record, msid=msid, settings=FAST, reconcilers={}) for msid in (11, 12)]
    jobs = JobService(db_engine)
    ids = [jobs.submit(admin, "op", {"i": i}) for i in range(40)]
    for server in pools:
        server.start()
    try:
        for job_id in ids:
            assert wait_done(jobs, admin, job_id)["jobstatus"] == 1
    finally:
        for server in pools:
            server.stop(timeout=10)
    assert sorted(runs) == sorted(ids)  # every job ran, and exactly once


def test_leases_are_renewed_while_a_job_runs(db_engine: Engine, admin: Caller) -> None:
    short = PoolSettings(workers=1, poll_interval=0.05, heartbeat_interval=0.1, dead_after=5.0, lease_seconds=1.0)
    runner = JobWorkerPool(db_engine, executor, msid=21, settings=short, reconcilers={})
    watcher = JobWorkerPool(db_engine, executor, msid=22, settings=short, reconcilers={})
    jobs = JobService(db_engine, runner)
    runner.start()
    try:
        job_id = jobs.submit(admin, "sleep", {"seconds": 3})  # three times the lease
        time.sleep(0.2)
        watcher.start()  # recovers expired leases every heartbeat: this one must stay alive
        assert wait_done(jobs, admin, job_id)["jobstatus"] == 1
    finally:
        watcher.stop(timeout=5)
        runner.stop(timeout=5)


def test_visibility(pool: JobWorkerPool, identity: IdentityService, admin: Caller) -> None:
    jobs = JobService(pool.engine, pool)
    sub = make_domain(identity, admin, "sub")
    _, dadmin = make_account(identity, admin, "dadmin", account_type=2, domain_uuid=sub)
    _, alice = make_account(identity, admin, "alice", domain_uuid=sub)
    _, bob = make_account(identity, admin, "bob")
    admin_job = jobs.submit(admin, "ok", {})
    alice_job = jobs.submit(alice, "ok", {})
    bob_job = jobs.submit(bob, "ok", {})
    for job_id in (admin_job, alice_job, bob_job):
        wait_done(jobs, admin, job_id)

    def listed(caller: Caller) -> set[str]:
        return {view.jobid for view in jobs.list(caller)[1]}

    assert listed(admin) == {admin_job, alice_job, bob_job}
    assert listed(dadmin) == {alice_job}
    assert listed(alice) == {alice_job}
    assert jobs.query(dadmin, alice_job).account == "alice"
    with pytest.raises(PermissionDeniedError):
        jobs.query(alice, bob_job)
    with pytest.raises(PermissionDeniedError):
        jobs.query(dadmin, admin_job)
    with pytest.raises(ParamError):
        jobs.query(admin, "00000000-0000-4000-8000-000000000000")
    total, page = jobs.list(admin, pagesize=2, page=1)
    assert total == 3 and len(page) == 2 and page[0].jobid == bob_job  # newest first


def test_graceful_stop(db_engine: Engine, admin: Caller) -> None:
    one = PoolSettings(workers=1, poll_interval=0.05, heartbeat_interval=0.1, dead_after=5.0, lease_seconds=5.0)
    pool = JobWorkerPool(db_engine, executor, msid=31, settings=one, reconcilers={})
    jobs = JobService(db_engine, pool)
    pool.start()
    slow = jobs.submit(admin, "sleep", {"seconds": 2})
    _wait_running(db_engine, slow)
    queued = jobs.submit(admin, "ok", {})
    failed = pool.stop(timeout=0.3)
    assert failed == [slow]  # still running at the deadline: failed as after a crash
    assert jobs.query(admin, slow).jobresultcode == 530
    with db_engine.connect() as conn:
        row = conn.execute(select(async_job).where(async_job.c.uuid == queued)).one()
    assert (row.status, row.owner_msid) == (0, None)  # never claimed: left for another node
    deadline = time.monotonic() + 10
    while pool.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # the abandoned job's thread ends on its own; its late result is dropped
    assert not pool.is_alive()
    assert jobs.query(admin, slow).jobresultcode == 530


def _wait_running(engine: Engine, job_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(async_job.c.owner_msid).where(async_job.c.uuid == job_id)).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("job not claimed")


def test_gc_purges_old_finished_jobs(pool: JobWorkerPool, admin: Caller) -> None:
    jobs = JobService(pool.engine, pool)
    old, recent = jobs.submit(admin, "ok", {}), jobs.submit(admin, "ok", {})
    for job_id in (old, recent):
        wait_done(jobs, admin, job_id)
    with pool.engine.begin() as conn:
        conn.execute(update(async_job).where(async_job.c.uuid == old).values(completed=utcnow() - timedelta(days=2)))
        assert purge_finished(conn) == 1
    with pytest.raises(ParamError):
        jobs.query(admin, old)
    assert jobs.query(admin, recent).jobstatus == 1


def test_jobs_waiting_too_long_for_their_resource_fail(db_engine: Engine, admin: Caller) -> None:
    jobs = JobService(db_engine)  # no pool: nothing runs, both jobs wait on vm-x
    first = jobs.submit(admin, "op", {}, instance_type="VirtualMachine", instance_id="vm-x")
    second = jobs.submit(admin, "op", {}, instance_type="VirtualMachine", instance_id="vm-x")
    free = jobs.submit(admin, "op", {})
    with db_engine.begin() as conn:
        conn.execute(update(async_job).where(async_job.c.uuid == first).values(owner_msid=99))  # "running"
        conn.execute(update(async_job).values(created=utcnow() - timedelta(hours=2)))
        assert cancel_stale_waiting(conn) == [second]  # running and unqueued jobs are left alone
    view = jobs.query(admin, second).as_response()
    assert view["jobstatus"] == 2 and view["jobresultcode"] == 530
    assert "waited more than 60 minutes for VirtualMachine:vm-x" in str(view["jobresult"])
    assert jobs.query(admin, free).jobstatus == 0
