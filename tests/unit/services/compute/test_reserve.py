"""The reservation guard itself: a stale snapshot never over-commits, and a lost race moves to the next host."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from provisioner.db.schema import host, storage_pool
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute import capacity
from provisioner.services.compute.allocator import (
    DeploymentRequest,
    PlannerSettings,
    VolumeRequest,
    allocate,
    load_snapshot,
    reserve,
    reserve_host,
    reserve_pool,
)
from tests.unit.services.compute.cloud import GIB, MIB, Cloud


def request(cloud: Cloud, **values: object) -> DeploymentRequest:
    fields: dict[str, object] = {
        "zone_id": cloud.zone_id,
        "cpu_number": 2,
        "cpu_speed": 1000,
        "memory_mib": 1024,
        "account_id": cloud.accounts["alice"],
        "volumes": (VolumeRequest("ROOT", 10 * GIB),),
    }
    fields.update(values)
    return DeploymentRequest(**fields)  # type: ignore[arg-type]


def test_guard_rechecks_counters_and_state_not_the_snapshot(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1", cores=2, speed=2000)  # 4000 MHz
    p1 = cloud.pool("p1", cluster_id=c1, capacity_gib=10, pool_type="Filesystem")  # factor 1: 8.5 GiB usable
    with cloud.engine.begin() as conn:
        stale = load_snapshot(conn, request(cloud))
    candidate = stale.hosts[h1]
    with cloud.engine.begin() as conn:
        assert reserve_host(conn, candidate, 3000, 2, 512 * MIB)
        # The snapshot still says 4000 MHz free; the row says 1000.
        assert not reserve_host(conn, candidate, 2000, 2, 512 * MIB)
        assert reserve_host(conn, candidate, 1000, 1, 512 * MIB)
        conn.execute(update(host).where(host.c.id == h1).values(resource_state="Maintenance", cpu_allocated=0))
        assert not reserve_host(conn, candidate, 1000, 1, 512 * MIB)
        pool = stale.cluster_pools[c1][0]
        assert reserve_pool(conn, pool, 8 * GIB)
        assert not reserve_pool(conn, pool, GIB)
        conn.execute(update(storage_pool).where(storage_pool.c.id == p1).values(state="Maintenance", allocated_bytes=0))
        assert not reserve_pool(conn, pool, GIB)


def test_a_host_taken_after_the_snapshot_is_excluded_and_the_next_one_used(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1", cores=2, speed=1000)
    h2 = cloud.host(c1, "h2", cores=2, speed=1000)
    cloud.pool("p1", cluster_id=c1)
    cloud.setting("cluster.cpu.allocated.capacity.disablethreshold", "1", "cluster", c1)
    with cloud.engine.begin() as conn:
        stale = load_snapshot(conn, request(cloud))
        conn.execute(update(host).where(host.c.id == h1).values(cpu_allocated=2000))  # a concurrent winner
    monkeypatch.setattr(reserve, "load_snapshot", lambda conn, req, with_account_vms: stale)
    with cloud.engine.begin() as conn:
        placement = allocate(conn, request(cloud), PlannerSettings(algorithm="firstfit"))
        assert (placement.host_id, placement.attempts) == (h2, 2)
        held = conn.execute(select(host.c.id, host.c.cpu_allocated).order_by(host.c.id)).all()
        assert [tuple(r) for r in held] == [(h1, 2000), (h2, 2000)]


def test_a_pool_taken_after_the_snapshot_undoes_the_host_share(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = cloud.cluster("c1")
    c2 = cloud.cluster("c2")
    h1 = cloud.host(c1, "h1")
    h2 = cloud.host(c2, "h2")
    p1 = cloud.pool("p1", cluster_id=c1, capacity_gib=10, pool_type="Filesystem")
    cloud.pool("p2", cluster_id=c2)
    with cloud.engine.begin() as conn:
        stale = load_snapshot(conn, request(cloud))
        conn.execute(update(storage_pool).where(storage_pool.c.id == p1).values(allocated_bytes=8 * GIB))
    monkeypatch.setattr(reserve, "load_snapshot", lambda conn, req, with_account_vms: stale)
    with cloud.engine.begin() as conn:
        placement = allocate(conn, request(cloud), PlannerSettings(algorithm="firstfit"))
        assert placement.host_id == h2
        assert conn.execute(select(host.c.cpu_allocated).where(host.c.id == h1)).scalar_one() == 0
        conn.execute(update(storage_pool).where(storage_pool.c.id == p1).values(allocated_bytes=0))
        conn.execute(update(host).where(host.c.id == h2).values(cpu_allocated=0, cores_allocated=0, memory_allocated=0))
        conn.execute(update(storage_pool).where(storage_pool.c.id != p1).values(allocated_bytes=0))
        assert capacity.drift(conn) == []


def test_a_hinted_host_lost_to_a_race_says_so(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1", cores=2, speed=1000)
    cloud.pool("p1", cluster_id=c1)
    cloud.setting("cluster.cpu.allocated.capacity.disablethreshold", "1", "cluster", c1)
    with cloud.engine.begin() as conn:
        stale = load_snapshot(conn, request(cloud, host_id=h1))
        conn.execute(update(host).where(host.c.id == h1).values(cpu_allocated=2000))
    monkeypatch.setattr(reserve, "load_snapshot", lambda conn, req, with_account_vms: stale)
    with (
        pytest.raises(
            InsufficientCapacityError, match=r"\(host h1 requested\).*: 1 host filled by a concurrent deployment$"
        ),
        cloud.engine.begin() as conn,
    ):
        allocate(conn, request(cloud, host_id=h1), PlannerSettings(algorithm="firstfit"))
