"""Server lifecycle on SQLite and PostgreSQL: kill -9 during running jobs, graceful SIGTERM, idle memory."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cs import CloudStack, CloudStackApiException

from provisioner.server.backend import SHUTDOWN_TEXT
from provisioner.services.jobs import RESTART_TEXT
from tests.support.server import LiveServer, start_server

pytestmark = pytest.mark.integration

SLOW_SERVER = [sys.executable, "-m", "tests.integration.server.slow_server"]
#: Idle RSS bound in MB: the issue's floor is 150 MB; this generous bound only catches gross regressions.
IDLE_RSS_BOUND_MB = 250


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` (bounded in time) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def slow_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server that also knows ``testSlowJob``; running jobs get 3 s on a graceful shutdown."""
    server = start_server(db_url, tmp_path / "server", command=SLOW_SERVER, extra_args=["--shutdown-timeout", "3"])
    try:
        yield server
    finally:
        server.stop()


def make_accounts(api: CloudStack, count: int) -> list[str]:
    """Accounts to run slow jobs on (one each: jobs on one account run one after the other)."""
    return [
        api.createAccount(
            username=f"slow{i}", password="pw-slow", email="s@example.org", firstname="S", lastname="L", accounttype=0
        )["account"]["id"]
        for i in range(count)
    ]


def phases(api: CloudStack) -> dict[str, str]:
    """The ``phase`` tag of every account that has one."""
    return {tag["resourceid"]: tag["value"] for tag in api.listTags(key="phase", listall=True).get("tag", [])}


def unfinished(api: CloudStack) -> list[str]:
    """Jobs still in progress."""
    return [job["jobid"] for job in api.listAsyncJobs(listall=True).get("asyncjobs", []) if job["jobstatus"] == 0]


def test_kill9_fails_running_jobs_with_530_after_restart(slow_server: LiveServer) -> None:
    api = slow_server.api
    accounts = make_accounts(api, 3)
    raw = slow_server.client(slow_server.apikey, slow_server.secretkey, fetch_result=False)
    jobs = [raw.testSlowJob(id=account, seconds=90)["jobid"] for account in accounts]
    wait_for(lambda: all(phases(api).get(a) == "transitional" for a in accounts), "the jobs to start")

    slow_server.kill9()
    slow_server.start()  # same port: the same node id, whose leftovers are failed on start

    for jobid in jobs:
        result = raw.queryAsyncJobResult(jobid=jobid)
        assert (result["jobstatus"], result["jobresultcode"]) == (2, 530)
        assert result["jobresult"] == {"errorcode": 530, "errortext": RESTART_TEXT}
    assert unfinished(api) == []
    assert {account: phases(api)[account] for account in accounts} == dict.fromkeys(accounts, "stable")


def test_sigterm_drains_jobs_and_refuses_new_ones(slow_server: LiveServer) -> None:
    api = slow_server.api
    quick_account, long_account, late_account = make_accounts(api, 3)
    raw = slow_server.client(slow_server.apikey, slow_server.secretkey, fetch_result=False)
    quick = raw.testSlowJob(id=quick_account, seconds=2)["jobid"]
    slow = raw.testSlowJob(id=long_account, seconds=90)["jobid"]
    wait_for(lambda: phases(api).get(long_account) == "transitional", "the long job to start")

    assert slow_server.process is not None
    slow_server.process.send_signal(signal.SIGTERM)
    # While draining, the API still answers: sync commands work, new async commands are refused.
    wait_for(lambda: _refused(raw, late_account), "new jobs to be refused", timeout=10)
    assert api.listDomains()["count"] == 1
    assert slow_server.process.wait(30) == 0

    slow_server.start()
    assert raw.queryAsyncJobResult(jobid=quick)["jobstatus"] == 1
    failed = raw.queryAsyncJobResult(jobid=slow)
    assert (failed["jobstatus"], failed["jobresultcode"]) == (2, 530)
    assert unfinished(api) == []
    assert phases(api)[quick_account] == "done" and phases(api)[long_account] == "stable"
    assert late_account not in phases(api)


def _refused(client: CloudStack, account: str) -> bool:
    try:
        client.testSlowJob(id=account, seconds=1)
    except CloudStackApiException as exc:
        assert exc.error["errorcode"] == 503 and exc.error["errortext"] == SHUTDOWN_TEXT
        return True
    raise AssertionError("an async command was accepted during shutdown")


def test_idle_memory_and_ctrl_c(live_server: LiveServer) -> None:
    live_server.api.listAccounts()
    time.sleep(2)  # let the job threads and heartbeat settle
    status = Path(f"/proc/{live_server.pid}/status").read_text()
    rss_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024
    print(f"idle RSS {rss_mb:.1f} MB")
    assert rss_mb < IDLE_RSS_BOUND_MB
    assert live_server.stop(signal.SIGINT) == 0
    assert "Traceback" not in live_server.log()
