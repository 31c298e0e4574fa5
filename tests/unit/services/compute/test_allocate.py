"""allocate_vm on a real database: placement, counters, settings from the configuration, 533 texts."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, nic, storage_pool, vm_instance, volume
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute import capacity
from provisioner.services.compute.allocator import PlannerSettings
from provisioner.services.compute.settings import planner_settings
from provisioner.services.compute.vms import AllocatedVm, NicRequest, VmSpec, allocate_vm
from tests.unit.services.compute.cloud import FIRSTFIT, GIB, MIB, Cloud


def spec(cloud: Cloud, offering: int, name: str = "vm", **values: object) -> VmSpec:
    fields: dict[str, object] = {
        "name": name,
        "zone_id": cloud.zone_id,
        "service_offering_id": offering,
        "account_id": cloud.accounts["alice"],
        "domain_id": cloud.domain_id,
    }
    fields.update(values)
    return VmSpec(**fields)  # type: ignore[arg-type]


def deploy(cloud: Cloud, vm: VmSpec, settings: PlannerSettings | None = FIRSTFIT) -> AllocatedVm:
    return run_in_transaction(cloud.engine, lambda conn: allocate_vm(conn, vm, settings=settings))


def host_counters(engine: Engine, host_id: int) -> tuple[int, int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(host.c.cpu_allocated, host.c.cores_allocated, host.c.memory_allocated).where(host.c.id == host_id)
        ).one()
        return row.cpu_allocated, row.cores_allocated, row.memory_allocated


def test_allocate_reserves_host_pool_ip_and_mac_in_one_go(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1")
    p1 = cloud.pool("p1", cluster_id=c1)
    net = cloud.network()
    vm = deploy(cloud, spec(cloud, cloud.offering(cpu=2, speed=1000, memory=2048), nics=(NicRequest(net),)))
    assert vm.state == "Starting"
    assert vm.instance_name == f"i-{cloud.accounts['alice']}-{vm.id}-VM"
    assert vm.placement is not None and vm.placement.host_id == h1 and vm.placement.pool_ids == (p1,)
    assert host_counters(cloud.engine, h1) == (2000, 2, 2048 * MIB)
    [(ip, mac)] = vm.nics
    assert ip == "10.1.1.2"  # .1 is the gateway
    assert mac.startswith("02:00:")
    with cloud.engine.connect() as conn:
        assert (
            conn.execute(select(storage_pool.c.allocated_bytes).where(storage_pool.c.id == p1)).scalar_one() == 10 * GIB
        )
        root = conn.execute(select(volume).where(volume.c.vm_id == vm.id)).one()
        assert (root.volume_type, root.state, root.pool_id, root.size) == ("ROOT", "Allocated", p1, 10 * GIB)
        assert conn.execute(select(nic.c.is_default).where(nic.c.vm_id == vm.id)).scalar_one() is True
        assert capacity.drift(conn) == []


def test_startvm_false_holds_no_host_or_pool(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1")
    cloud.pool("p1", cluster_id=c1)
    vm = deploy(cloud, spec(cloud, cloud.offering(), start=False))
    assert (vm.state, vm.placement) == ("Stopped", None)
    assert host_counters(cloud.engine, h1) == (0, 0, 0)
    with cloud.engine.connect() as conn:
        assert conn.execute(select(volume.c.pool_id).where(volume.c.vm_id == vm.id)).scalar_one() is None
        assert capacity.drift(conn) == []


def test_533_when_nothing_fits_leaves_nothing_behind(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    cloud.host(c1, "h1", cpu_allocated=8000)
    cloud.host(c1, "h2", resource_state="Maintenance")
    cloud.pool("p1", cluster_id=c1)
    # Thresholds out of the way: the cluster is as full as its one usable host.
    cloud.setting("cluster.cpu.allocated.capacity.disablethreshold", "2", "cluster", c1)
    with pytest.raises(InsufficientCapacityError) as info:
        deploy(cloud, spec(cloud, cloud.offering()))
    assert info.value.errorcode == 533
    assert "1 host full (CPU)" in info.value.errortext and "1 host in maintenance" in info.value.errortext
    with cloud.engine.connect() as conn:
        assert conn.execute(select(vm_instance.c.id)).first() is None


def test_factors_and_thresholds_come_from_scoped_settings(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1", cores=2, speed=1000)  # 2000 MHz raw
    cloud.pool("p1", cluster_id=c1)
    offering = cloud.offering(cpu=2, speed=1000, memory=512)
    cloud.setting("cluster.cpu.allocated.capacity.disablethreshold", "1", "cluster", c1)
    deploy(cloud, spec(cloud, offering, "a"))
    with pytest.raises(InsufficientCapacityError, match="disablethreshold"):
        deploy(cloud, spec(cloud, offering, "b"))
    cloud.setting("cpu.overprovisioning.factor", "2", "cluster", c1)
    deploy(cloud, spec(cloud, offering, "b"))
    assert host_counters(cloud.engine, h1)[0] == 4000


def test_storage_factor_and_allocated_threshold_per_pool_and_zone(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    cloud.host(c1, "h1")
    p1 = cloud.pool("p1", cluster_id=c1, capacity_gib=10)
    offering = cloud.offering(memory=256, root_gib=10)
    cloud.setting("storage.overprovisioning.factor", "1", "storagepool", p1)
    with pytest.raises(InsufficientCapacityError, match=r"1 pool full \(allocated space\)"):
        deploy(cloud, spec(cloud, offering))
    cloud.setting("pool.storage.allocated.capacity.disablethreshold", "1", "zone", cloud.zone_id)
    deploy(cloud, spec(cloud, offering))


def test_planner_settings_defaults_and_offering_planner(cloud: Cloud) -> None:
    with cloud.engine.connect() as conn:
        assert planner_settings(conn) == PlannerSettings(algorithm="random")
        assert planner_settings(conn, "UserDispersingPlanner").algorithm == "userdispersing"
        assert planner_settings(conn, "FirstFitPlanner").algorithm == "random"
    cloud.setting("vm.allocation.algorithm", "firstfitleastconsumed")
    cloud.setting("host.capacityType.to.order.clusters", "RAM")
    with cloud.engine.connect() as conn:
        assert planner_settings(conn) == PlannerSettings(algorithm="firstfitleastconsumed", capacity_type="RAM")


def test_userdispersing_spreads_an_accounts_vms(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    hosts = [cloud.host(c1, f"h{i}") for i in range(3)]
    cloud.pool("p1", cluster_id=c1)
    offering = cloud.offering(memory=256)
    placed = [
        deploy(cloud, spec(cloud, offering, f"vm{i}"), PlannerSettings(algorithm="userdispersing")) for i in range(3)
    ]
    assert sorted(vm.placement.host_id for vm in placed if vm.placement) == sorted(hosts)


def test_anti_affinity_group_spreads_and_affinity_group_packs(cloud: Cloud) -> None:
    from sqlalchemy import insert

    from provisioner.db.schema import affinity_group

    c1 = cloud.cluster("c1")
    for i in range(2):
        cloud.host(c1, f"h{i}")
    cloud.pool("p1", cluster_id=c1)
    offering = cloud.offering(memory=256)
    alice = cloud.accounts["alice"]
    anti = cloud.run(
        insert(affinity_group).values(
            name="anti", type="host anti-affinity", account_id=alice, domain_id=cloud.domain_id
        )
    )
    together = cloud.run(
        insert(affinity_group).values(name="tog", type="host affinity", account_id=alice, domain_id=cloud.domain_id)
    )
    a = deploy(cloud, spec(cloud, offering, "a", affinity_group_ids=(anti,)))
    b = deploy(cloud, spec(cloud, offering, "b", affinity_group_ids=(anti,)))
    assert a.placement and b.placement and a.placement.host_id != b.placement.host_id
    with pytest.raises(InsufficientCapacityError, match="anti-affinity"):
        deploy(cloud, spec(cloud, offering, "c", affinity_group_ids=(anti,)))
    d = deploy(cloud, spec(cloud, offering, "d", affinity_group_ids=(together,)))
    e = deploy(cloud, spec(cloud, offering, "e", affinity_group_ids=(together,)))
    assert d.placement and e.placement and d.placement.host_id == e.placement.host_id


def test_data_disk_and_local_storage(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    h1 = cloud.host(c1, "h1")
    h2 = cloud.host(c1, "h2")
    shared = cloud.pool("shared", cluster_id=c1)
    local = cloud.pool("local", scope="HOST", host_id=h2, cluster_id=c1, pool_type="Filesystem")
    vm = deploy(cloud, spec(cloud, cloud.offering(memory=256), data_disk_offering_id=cloud.disk_offering(size_gib=20)))
    assert vm.placement and vm.placement.pool_ids == (shared, shared)
    assert vm.placement.host_id == h1
    vm = deploy(cloud, spec(cloud, cloud.offering("loc", memory=256, storage_type="local"), "l"))
    assert vm.placement and (vm.placement.host_id, vm.placement.pool_ids) == (h2, (local,))
    with cloud.engine.connect() as conn:
        assert capacity.drift(conn) == []


def test_snapshot_reads_tags_zone_pools_and_allocation_states(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1")
    c2 = cloud.cluster("c2", allocation_state="Disabled")
    plain = cloud.host(c1, "plain")
    tagged = cloud.host(c1, "tagged", tags=("gpu", "ssd"))
    hidden = cloud.host(c2, "hidden", tags=("gpu", "ssd"))
    cloud.pool("slow", cluster_id=c1, tags=("hdd",))
    fast = cloud.pool("fast", scope="ZONE", tags=("ssd",), hypervisor="KVM")
    offering = cloud.offering(memory=256, host_tags="gpu", storage_tags="ssd")
    vm = deploy(cloud, spec(cloud, offering))
    assert vm.placement and (vm.placement.host_id, vm.placement.pool_ids) == (tagged, (fast,))
    assert plain != hidden
    # Root admins may use the disabled cluster; the request says so.
    vm = deploy(cloud, spec(cloud, offering, "root", cluster_id=c2, is_root_admin=True))
    assert vm.placement and vm.placement.host_id == hidden
    with pytest.raises(InsufficientCapacityError, match="1 host in a disabled cluster"):
        deploy(cloud, spec(cloud, offering, "user", cluster_id=c2))
