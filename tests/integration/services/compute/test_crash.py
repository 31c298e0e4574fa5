"""kill -9 of a server mid-deployment: nothing half-made survives, the reconciler stops the VM, capacity adds up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from provisioner.db.schema import host, ip_address, nic, storage_pool, vm_instance
from provisioner.services.compute import capacity
from provisioner.services.jobs.recovery import fail_orphans
from tests.unit.services.compute.cloud import Cloud

REPO = Path(__file__).resolve().parents[4]
CHILD_MSID = 4343


@pytest.mark.integration
def test_kill_9_mid_deployment(db_engine: Engine, db_url: str, tmp_path: Path) -> None:
    cloud = Cloud(db_engine)
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1")
    cloud.pool("p1", cluster_id=c1)
    base = {
        "zone_id": cloud.zone_id,
        "service_offering_id": cloud.offering(cpu=2, speed=1000, memory=1024),
        "account_id": cloud.accounts["alice"],
        "domain_id": cloud.domain_id,
        "network_id": cloud.network(),
        "job_user_id": cloud.user_id,
    }
    marker = tmp_path / "reserved"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.services.compute.crash_child",
            db_url,
            json.dumps(base),
            str(CHILD_MSID),
            str(marker),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the open allocation"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)

    with db_engine.begin() as conn:
        # The open transaction died with the process: one VM, its reservation only.
        assert [tuple(r) for r in conn.execute(select(vm_instance.c.name, vm_instance.c.state))] == [
            ("committed", "Starting")
        ]
        assert conn.execute(select(host.c.cpu_allocated).where(host.c.id == h1)).scalar_one() == 2000
        assert capacity.drift(conn) == []
        # The server's restart (or a peer) fails its job; the VirtualMachine reconciler stops the VM.
        assert len(fail_orphans(conn, own_msid=CHILD_MSID, include_own=True, dead_msids=[])) == 1
        assert conn.execute(select(vm_instance.c.state, vm_instance.c.host_id)).one() == ("Stopped", None)
        assert conn.execute(select(host.c.cpu_allocated, host.c.memory_allocated)).one() == (0, 0)
        # A stopped VM keeps its disk, address and MAC (CloudStack releases only CPU and memory on stop).
        assert conn.execute(select(storage_pool.c.allocated_bytes)).scalar_one() == 10 * 1024**3
        assert len(conn.execute(select(ip_address.c.id).where(ip_address.c.vm_id.is_not(None))).all()) == 1
        assert len(conn.execute(select(nic.c.id)).all()) == 1
        assert capacity.drift(conn) == []
