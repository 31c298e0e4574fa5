"""List filters, SQL paging with the total count, a constant number of statements, and soft delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event

from provisioner.services.infrastructure import (
    clusters,
    hosts,
    image_stores,
    pods,
    storage_pools,
    zones,
)
from provisioner.services.infrastructure.host_states import prepare_host_for_maintenance
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.builders import add_pool, add_store, sim_zone
from tests.unit.services.infrastructure.conftest import Run


@contextmanager
def statements(conn: Connection) -> Iterator[list[str]]:
    """Record every SQL statement ``conn`` sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


def _many_hosts(run: Run[object], admin: Caller, count: int) -> str:
    def build(conn: Connection) -> str:
        sim = sim_zone(conn, admin, host_count=count)
        add_pool(conn, admin, sim)
        return sim.cluster

    return str(run(build))


def test_paging_returns_the_total_count(run: Run[object], admin: Caller) -> None:
    cluster_id = _many_hosts(run, admin, 7)

    def check(conn: Connection) -> None:
        pages = [hosts.list_hosts(conn, admin, page=number, pagesize=3) for number in (1, 2, 3, 4)]
        assert [len(rows) for rows, _ in pages] == [3, 3, 1, 0]
        assert {total for _, total in pages} == {7}
        names = [row["name"] for rows, _ in pages for row in rows]
        assert names == [f"h{index}" for index in range(7)]
        rows, total = hosts.list_hosts(conn, admin, clusterid=cluster_id, name="h3")
        assert (total, [row["name"] for row in rows]) == (1, ["h3"])
        rows, total = hosts.list_hosts(conn, admin, keyword="h", page=2, pagesize=5)
        assert (len(rows), total) == (2, 7)

    run(check)


def test_filters(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        first = sim_zone(conn, admin, "alpha", host_count=2)
        second = sim_zone(conn, admin, "beta", host_count=1)
        zones.update_zone(conn, admin, first.zone, allocationstate="Enabled")
        rows, total = zones.list_zones(conn, admin, available=True)
        assert (total, [row["name"] for row in rows]) == (1, ["alpha"])
        rows, total = zones.list_zones(conn, admin, ids=[first.zone, second.zone])
        assert total == 2
        assert zones.list_zones(conn, admin, keyword="et")[1] == 1
        assert zones.list_zones(conn, admin, keyword="%")[1] == 0  # LIKE wildcards are literal
        rows, total = hosts.list_hosts(conn, admin, zoneid=second.zone)
        assert (total, rows[0]["zonename"], rows[0]["clustername"]) == (1, "beta", "beta-c1")
        hosts.update_host(conn, admin, first.hosts[1], hosttags="gpu,ssd")
        assert hosts.list_hosts(conn, admin, hosttags="gpu")[0][0]["id"] == first.hosts[1]
        prepare_host_for_maintenance(conn, admin, first.hosts[0])
        assert hosts.list_hosts(conn, admin, resourcestate="Maintenance")[0][0]["id"] == first.hosts[0]
        assert hosts.list_hosts(conn, admin, state="Up", hypervisor="simulator")[1] == 3
        assert pods.list_pods(conn, admin, zoneid=first.zone)[0][0]["id"] == first.pod
        assert clusters.list_clusters(conn, admin, podid=second.pod)[0][0]["id"] == second.cluster
        assert clusters.list_clusters(conn, admin, hypervisor="KVM")[1] == 0
        add_pool(conn, admin, first, "gold")
        add_store(conn, admin, second)
        assert storage_pools.list_storage_pools(conn, admin, zoneid=second.zone)[1] == 0
        assert storage_pools.list_storage_pools(conn, admin, name="gold")[0][0]["clusterid"] == first.cluster
        assert image_stores.list_image_stores(conn, admin, zoneid=second.zone)[1] == 1

    run(check)


Lister = Callable[[Connection, Caller, int, int], tuple[list[Any], int]]


@pytest.mark.parametrize(
    ("lister", "bound"),
    [
        (lambda conn, caller, page, size: hosts.list_hosts(conn, caller, page=page, pagesize=size), 2),
        (lambda conn, caller, page, size: pods.list_pods(conn, caller, page=page, pagesize=size), 2),
        (lambda conn, caller, page, size: storage_pools.list_storage_pools(conn, caller, page=page, pagesize=size), 2),
        # The page, its count, then one grouped statement each for hosts, pools and image stores.
        (
            lambda conn, caller, page, size: zones.list_zones(
                conn, caller, page=page, pagesize=size, showcapacities=True
            ),
            5,
        ),
        (
            lambda conn, caller, page, size: clusters.list_clusters(
                conn, caller, page=page, pagesize=size, showcapacities=True
            ),
            4,
        ),
    ],
    ids=["listHosts", "listPods", "listStoragePools", "listZones", "listClusters"],
)
def test_statement_count_does_not_grow(run: Run[object], admin: Caller, lister: Lister, bound: int) -> None:
    def measure(conn: Connection, page: int, size: int) -> tuple[int, int]:
        with statements(conn) as seen:
            rows, _ = lister(conn, admin, page, size)
        return len(rows), len(seen)

    def grow(conn: Connection, name: str, host_count: int) -> None:
        sim = sim_zone(conn, admin, name, host_count=host_count)
        add_pool(conn, admin, sim, f"{name}-pool")

    run(lambda conn: grow(conn, "small", 1))
    small = [run(lambda conn, page=page, size=size: measure(conn, page, size)) for page, size in ((1, 1), (1, 500))]
    for index in range(4):
        run(lambda conn, index=index: grow(conn, f"big{index}", 6))
    big = [
        run(lambda conn, page=page, size=size: measure(conn, page, size))
        for page, size in ((1, 1), (1, 2), (2, 3), (1, 500))
    ]
    assert big[-1][0] > small[-1][0] >= 1  # more rows listed...
    assert max(count for _, count in small + big) <= bound  # ...in no more statements


def test_soft_delete_hides_rows(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=1)
        pool = add_pool(conn, admin, sim)
        storage_pools.delete_storage_pool(conn, admin, pool)
        assert storage_pools.list_storage_pools(conn, admin)[1] == 0
        prepare_host_for_maintenance(conn, admin, sim.hosts[0])
        hosts.delete_host(conn, admin, sim.hosts[0])
        assert hosts.list_hosts(conn, admin) == ([], 0)
        assert hosts.list_hosts(conn, admin, id=sim.hosts[0]) == ([], 0)
        clusters.delete_cluster(conn, admin, sim.cluster)
        pods.delete_pod(conn, admin, sim.pod)
        zones.delete_zone(conn, admin, sim.zone)
        assert zones.list_zones(conn, admin) == ([], 0)
        # The name is free again, as the old row is only marked removed.
        assert zones.create_zone(conn, admin, name="z1", networktype="Basic", dns1="8.8.8.8", internaldns1="8.8.4.4")
        row = conn.exec_driver_sql("SELECT count(*) FROM zone WHERE removed IS NOT NULL").scalar_one()
        assert row == 1

    run(check)
