"""100 deployments at once against a nearly full cluster: no over-commit, no duplicate IP or MAC.

Every attempt ends placed or with 533, and afterwards the host and pool counters equal the sums
over the placed VMs. Threads on SQLite and PostgreSQL; on PostgreSQL also four processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, ip_address, nic, storage_pool
from provisioner.services.compute import capacity
from provisioner.services.compute.vms import allocate_vm
from tests.integration.services.compute.storm import spec_for, storm
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud

REPO = Path(__file__).resolve().parents[4]
HOSTS, VMS_PER_HOST, ALREADY = 4, 4, 4  # 16 slots, 4 taken: 12 left for 100 contenders


@pytest.fixture
def nearly_full(db_engine: Engine) -> tuple[Cloud, dict[str, Any]]:
    cloud = Cloud(db_engine)
    c1 = cloud.cluster("c1")
    for i in range(HOSTS):
        cloud.host(c1, f"h{i}", cores=2, speed=2000, memory_gib=6)  # 4 x (1 x 1000 MHz) by CPU
    # The pool would take 20 root disks; the hosts run out first, so the pool guard is raced too.
    cloud.pool("p1", cluster_id=c1, capacity_gib=250)
    for name in (
        "cluster.cpu.allocated.capacity.disablethreshold",
        "cluster.memory.allocated.capacity.disablethreshold",
    ):
        cloud.setting(name, "1", "cluster", c1)
    base: dict[str, Any] = {
        "zone_id": cloud.zone_id,
        "service_offering_id": cloud.offering(cpu=1, speed=1000, memory=1024, root_gib=10),
        "account_id": cloud.accounts["alice"],
        "domain_id": cloud.domain_id,
        "network_id": cloud.network(),
    }
    for i in range(ALREADY):
        run_in_transaction(db_engine, partial(allocate_vm, spec=spec_for(base, f"pre{i}"), settings=FIRSTFIT))
    return cloud, base


def check(engine: Engine, outcomes: list[dict[str, Any]]) -> None:
    errors = [o for o in outcomes if o["outcome"] == "error"]
    assert errors == []
    placed = [o for o in outcomes if o["outcome"] == "placed"]
    assert len(placed) == HOSTS * VMS_PER_HOST - ALREADY  # every free slot taken, none twice
    assert all(o["text"].startswith("No host in zone z1 has 1 × 1000 MHz CPU") for o in outcomes if o["outcome"] == 533)  # noqa: RUF001
    assert len({o["ip"] for o in placed}) == len(placed)
    assert len({o["mac"] for o in placed}) == len(placed)
    with engine.connect() as conn:
        for h in conn.execute(select(host)):
            assert h.cpu_allocated <= h.cpu_cores * h.cpu_speed
            assert h.memory_allocated <= h.memory
        pool = conn.execute(select(storage_pool)).one()
        assert pool.allocated_bytes <= pool.capacity_bytes * 2 * 0.85
        assert capacity.drift(conn) == []
        addresses = conn.execute(select(ip_address.c.address).where(ip_address.c.vm_id.is_not(None))).scalars().all()
        assert len(addresses) == len(set(addresses)) == HOSTS * VMS_PER_HOST
        macs = conn.execute(select(nic.c.mac_address)).scalars().all()
        assert len(macs) == len(set(macs)) == HOSTS * VMS_PER_HOST


@pytest.mark.integration
@pytest.mark.parametrize("algorithm", ["firstfit", "random"])
def test_100_threads(nearly_full: tuple[Cloud, dict[str, Any]], algorithm: str) -> None:
    cloud, base = nearly_full
    outcomes = storm(cloud.engine, base, [f"vm{i}" for i in range(100)], algorithm)
    check(cloud.engine, outcomes)


@pytest.mark.integration
@pytest.mark.postgres
# Only PostgreSQL: several processes share one database there; SQLite is one server's embedded store.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_100_from_four_processes(nearly_full: tuple[Cloud, dict[str, Any]], db_url: str, tmp_path: Path) -> None:
    cloud, base = nearly_full
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.services.compute.storm",
                db_url,
                json.dumps({"base": base, "threads": 25, "prefix": f"p{i}", "algorithm": "firstfit"}),
                str(go),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    go.touch()
    outcomes = []
    for child in children:
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 0
        outcomes += [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(outcomes) == 100
    check(cloud.engine, outcomes)
