"""Capacity sums after adding hosts, pools and stores, with scoped over-provisioning factors."""

from __future__ import annotations

from sqlalchemy import Connection, select

from provisioner.db.schema import host, storage_pool
from provisioner.services.configuration import set_scoped_value
from provisioner.services.infrastructure import capacity, clusters, hosts, storage_pools
from provisioner.services.infrastructure.settings import STORAGE_OVERPROVISIONING
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.builders import GIB, add_pool, add_store, sim_zone
from tests.unit.services.infrastructure.conftest import Run


def _by_type(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {row["type"]: row for row in rows}


def test_capacity_sums_hosts_pools_and_stores(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=2)
        hosts.add_host(
            conn,
            admin,
            zoneid=sim.zone,
            podid=sim.pod,
            clusterid=sim.cluster,
            hypervisor="Simulator",
            url="http://sim/z1-c1/h9&cpucore=2&cpuspeed=1000&memory=1073741824",
        )
        add_pool(conn, admin, sim, "a", size=100 * GIB)
        pool_b = add_pool(conn, admin, sim, "b", size=50 * GIB)
        add_store(conn, admin, sim)
        pool_pk = conn.execute(select(storage_pool.c.id).where(storage_pool.c.uuid == pool_b)).scalar_one()
        capacity.adjust_pool_usage(conn, pool_pk, allocated=30 * GIB, used=10 * GIB)
        host_pk = conn.execute(select(host.c.id).where(host.c.uuid == sim.hosts[0])).scalar_one()
        capacity.adjust_host_allocation(conn, host_pk, cpu_mhz=4000, cores=2, memory=2 * GIB)

        rows, total = capacity.list_capacity(conn, admin, zoneid=sim.zone)
        by_type = _by_type(rows)
        assert total == len(rows) == 6  # memory, CPU, cores, storage, storage allocated, secondary
        assert by_type[capacity.MEMORY]["capacitytotal"] == 2 * 8 * GIB + GIB
        assert by_type[capacity.MEMORY]["capacityused"] == 2 * GIB
        assert by_type[capacity.CPU]["capacitytotal"] == 2 * 4 * 8000 + 2 * 1000
        assert by_type[capacity.CPU_CORE]["capacitytotal"] == 10
        assert by_type[capacity.STORAGE]["capacitytotal"] == 150 * GIB
        assert by_type[capacity.STORAGE]["capacityused"] == 10 * GIB
        # NFS pools are over-provisioned by storage.overprovisioning.factor (2 by default).
        assert by_type[capacity.STORAGE_ALLOCATED]["capacitytotal"] == 300 * GIB
        assert by_type[capacity.STORAGE_ALLOCATED]["percentused"] == "10"
        assert by_type[capacity.SECONDARY_STORAGE]["capacitytotal"] == 1 << 40
        assert by_type[capacity.CPU]["zonename"] == "z1"

        clusters.update_cluster(conn, admin, sim.cluster, cpuovercommitratio=3, memoryovercommitratio=1.5)
        set_scoped_value(conn, STORAGE_OVERPROVISIONING, "1", "storagepool", pool_pk)
        by_cluster = _by_type(capacity.list_capacity(conn, admin, clusterid=sim.cluster)[0])
        assert by_cluster[capacity.CPU]["capacitytotal"] == 3 * (2 * 4 * 8000 + 2 * 1000)
        assert by_cluster[capacity.MEMORY]["capacitytotal"] == int(1.5 * (2 * 8 * GIB + GIB))
        assert by_cluster[capacity.STORAGE_ALLOCATED]["capacitytotal"] == 200 * GIB + 50 * GIB
        assert by_cluster[capacity.CPU]["clustername"] == "z1-c1"
        assert capacity.SECONDARY_STORAGE not in by_cluster  # stores are zone-wide
        assert [row["type"] for row in capacity.list_capacity(conn, admin, type=capacity.CPU)[0]] == [capacity.CPU]

        listed = hosts.list_hosts(conn, admin, id=sim.hosts[0])[0][0]
        assert (listed["cpuallocated"], listed["memoryallocated"]) == ("12.5%", 2 * GIB)
        assert listed["cpuwithoverprovisioning"] == "96000"
        pools = storage_pools.list_storage_pools(conn, admin, id=pool_b)[0][0]
        assert (pools["disksizeallocated"], pools["disksizeused"], pools["overprovisionfactor"]) == (
            30 * GIB,
            10 * GIB,
            "1",
        )

    run(check)


def test_capacity_per_zone_and_sorting(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        first = sim_zone(conn, admin, "a", host_count=1)
        sim_zone(conn, admin, "b", host_count=2)
        host_pk = conn.execute(select(host.c.id).where(host.c.uuid == first.hosts[0])).scalar_one()
        capacity.adjust_host_allocation(conn, host_pk, cpu_mhz=16000)
        rows, total = capacity.list_capacity(conn, admin, type=capacity.CPU, sortby="usage")
        assert total == 2
        assert [(row["zonename"], row["percentused"]) for row in rows] == [("a", "50"), ("b", "0")]
        page, total = capacity.list_capacity(conn, admin, page=2, pagesize=2)
        assert total == 6 and len(page) == 2

    run(check)
