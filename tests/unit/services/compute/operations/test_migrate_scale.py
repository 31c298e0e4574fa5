"""Migration, scaling and host/pool maintenance on the simulator: capacity moves atomically and adds up."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.db.schema import host, storage_pool, vm_instance, vm_migration
from provisioner.exceptions import InsufficientCapacityError, InternalError, ParamError, PermissionDeniedError
from provisioner.services.compute import capacity
from provisioner.services.compute.operations import maintenance
from provisioner.services.compute.operations.migrate import begin_migration, migrate, release_stale_migrations
from provisioner.services.compute.operations.scale import scale
from provisioner.services.compute.recovery import recover_vm_state
from provisioner.services.compute.states import VMEvent
from provisioner.services.compute.transitions import transition
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.compute.cloud import GIB, Cloud
from tests.unit.services.compute.operations.helpers import host_url, running_vm, sim_host, vm_state

Setup = tuple[Cloud, list[int], int]


@pytest.fixture
def setup(cloud: Cloud) -> Setup:
    c1 = cloud.cluster("c1", hypervisor="Simulator")
    cloud.pool("p1", cluster_id=c1)
    hosts = [sim_host(cloud, c1, f"h{i}") for i in range(3)]
    cloud.setting("enable.dynamic.scale.vm", "true")  # live scaling is off by default, as in CloudStack
    return cloud, hosts, cloud.network()


def drift(engine: Engine) -> list[str]:
    with engine.begin() as conn:
        return capacity.drift(conn)


def held(engine: Engine, host_id: int) -> tuple[int, int]:
    with engine.begin() as conn:
        row = conn.execute(select(host.c.cpu_allocated, host.c.memory_allocated).where(host.c.id == host_id)).one()
    return row.cpu_allocated, row.memory_allocated


def on_host(cloud: Cloud, host_id: int) -> set[str]:
    return set(CLOUD.get_host(host_url(cloud, host_id)).vms)


def test_migrate_to_a_given_host_moves_the_vm_and_its_capacity(setup: Setup) -> None:
    cloud, (h0, _, h2), net = setup
    vm = running_vm(cloud, net, "a")
    assert migrate(cloud.engine, vm, h2) == h2
    assert vm_state(cloud, vm) == ("Running", "PowerOn", h2)
    assert held(cloud.engine, h0) == (0, 0) and held(cloud.engine, h2) == (1000, GIB)
    assert len(on_host(cloud, h2)) == 1 and not on_host(cloud, h0)
    with cloud.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.last_host_id).where(vm_instance.c.id == vm)).scalar() == h0
        assert conn.execute(select(vm_migration)).first() is None
    assert drift(cloud.engine) == []


def test_migrate_without_a_host_lets_the_allocator_choose_another(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vm = running_vm(cloud, net, "a")
    dest = migrate(cloud.engine, vm)
    assert dest != h0 and vm_state(cloud, vm)[2] == dest
    assert drift(cloud.engine) == []


def test_migrate_refusals(setup: Setup) -> None:
    cloud, (h0, h1, h2), net = setup
    vm = running_vm(cloud, net, "a")
    with pytest.raises(ParamError, match="destination host is same as current host"):
        migrate(cloud.engine, vm, h0)
    with cloud.engine.begin() as conn:  # the other hosts cannot take it
        conn.execute(update(host).where(host.c.id.in_([h1, h2])).values(resource_state="Disabled"))
    with pytest.raises(InsufficientCapacityError):
        migrate(cloud.engine, vm)
    with cloud.engine.begin() as conn:
        transition(conn, vm, VMEvent.STOP_REQUESTED)
        transition(conn, vm, VMEvent.OPERATION_SUCCEEDED)
    with pytest.raises(ParamError, match="VM is not Running, unable to migrate"):
        migrate(cloud.engine, vm, h1)
    assert drift(cloud.engine) == []


def test_a_failed_migration_leaves_the_vm_running_on_its_source(setup: Setup) -> None:
    cloud, (h0, h1, _), net = setup
    vm = running_vm(cloud, net, "a")
    CLOUD.get_host(host_url(cloud, h1)).fail_next("receive_vm")
    with pytest.raises(InternalError, match=r"Failed to migrate VM a .* to host h1"):
        migrate(cloud.engine, vm, h1)
    assert vm_state(cloud, vm) == ("Running", "PowerOn", h0)
    assert held(cloud.engine, h1) == (0, 0)
    assert drift(cloud.engine) == []


def test_a_migration_cut_short_by_a_crash_gives_its_reservation_back(setup: Setup) -> None:
    cloud, (h0, h1, _), net = setup
    vm = running_vm(cloud, net, "a")
    with cloud.engine.begin() as conn:
        begin_migration(conn, vm, h1)  # ... and the server dies before the driver moved it
    assert held(cloud.engine, h1) == (1000, GIB)
    with cloud.engine.begin() as conn:
        recover_vm_state(conn, vm)  # the job reconciler: Migrating -> Running on the source
        assert release_stale_migrations(conn) == 1
        assert release_stale_migrations(conn) == 0
    assert vm_state(cloud, vm) == ("Running", "PowerOn", h0)
    assert held(cloud.engine, h1) == (0, 0)
    assert drift(cloud.engine) == []


def test_scale_running_up_in_place_and_refusals(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vm = running_vm(cloud, net, "a", room=True)
    bigger = cloud.offering("big", cpu=2, speed=1000, memory=2048)
    scale(cloud.engine, vm, bigger)
    assert held(cloud.engine, h0) == (2000, 2 * GIB)
    (name,) = on_host(cloud, h0)
    with SimulatorDriver(host_url(cloud, h0)) as driver:
        info = driver.get_vm(name)
    assert (info.vcpus, info.memory_bytes) == (2, 2 * GIB)
    small = cloud.offering("small2", cpu=1, speed=1000, memory=1024)
    with pytest.raises(ParamError, match="Only scaling up the vm is supported"):
        scale(cloud.engine, vm, small)
    with pytest.raises(ParamError, match="already has the requested service offering"):
        scale(cloud.engine, vm, bigger)
    huge = cloud.offering("huge", cpu=4, speed=2000, memory=4096)  # 8000 MHz: the whole host, past 0.85
    with pytest.raises(InsufficientCapacityError):
        scale(cloud.engine, vm, huge)
    assert held(cloud.engine, h0) == (2000, 2 * GIB)
    with pytest.raises(ParamError, match="stop it first"):
        scale(cloud.engine, vm, small, running_ok=False)
    assert drift(cloud.engine) == []


def test_live_scale_needs_dynamic_scaling_enabled_for_the_zone(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vm = running_vm(cloud, net, "a", room=True)
    cloud.setting("enable.dynamic.scale.vm", "false", "zone", cloud.zone_id)  # the zone's value beats the global one
    with pytest.raises(PermissionDeniedError, match=r"disabled for this zone.*set enable\.dynamic\.scale\.vm to true"):
        scale(cloud.engine, vm, cloud.offering("big", cpu=2, speed=1000, memory=2048))
    assert held(cloud.engine, h0) == (1000, GIB)
    cloud.setting("enable.dynamic.scale.vm", "true", "zone", cloud.zone_id)
    scale(cloud.engine, vm, cloud.offering("big2", cpu=2, speed=1000, memory=2048))
    assert held(cloud.engine, h0) == (2000, 2 * GIB)
    assert drift(cloud.engine) == []


def test_a_failed_live_scale_puts_the_old_size_back(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vm = running_vm(cloud, net, "a", room=True)
    CLOUD.get_host(host_url(cloud, h0)).fail_next("scale_vm")
    with pytest.raises(InternalError, match="Unable to scale VM a"):
        scale(cloud.engine, vm, cloud.offering("big", cpu=2, speed=1000, memory=2048))
    held_before = held(cloud.engine, h0)
    fixed = running_vm(cloud, net, "fixed")  # defined without room to grow
    with pytest.raises(ParamError, match="not configured to be dynamically scalable"):
        scale(cloud.engine, fixed, cloud.offering("big2", cpu=2, speed=1000, memory=2048))
    assert held(cloud.engine, h0) == (held_before[0] + 1000, held_before[1] + GIB) == (2000, 2 * GIB)
    with cloud.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.cpu_number).where(vm_instance.c.id == vm)).scalar() == 1
    assert drift(cloud.engine) == []


def test_scale_a_stopped_vm_changes_its_offering_and_its_defined_domain(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vm = running_vm(cloud, net, "a")
    (name,) = on_host(cloud, h0)
    with cloud.engine.begin() as conn:
        transition(conn, vm, VMEvent.STOP_REQUESTED)
        transition(conn, vm, VMEvent.OPERATION_SUCCEEDED)
    with SimulatorDriver(host_url(cloud, h0)) as driver:
        driver.stop_vm(name)
    custom = cloud.offering("custom", cpu=0, speed=0, memory=0)
    with pytest.raises(ParamError, match="customised: pass details"):
        scale(cloud.engine, vm, custom)
    scale(cloud.engine, vm, custom, details={"cpuNumber": "3", "cpuSpeed": "500", "memory": "512"}, running_ok=False)
    with cloud.engine.begin() as conn:
        row = conn.execute(select(vm_instance).where(vm_instance.c.id == vm)).one()
    assert (row.service_offering_id, row.cpu_number, row.cpu_speed, row.memory) == (custom, 3, 500, 512)
    with SimulatorDriver(host_url(cloud, h0)) as driver:
        assert driver.get_vm(name).vcpus == 3
    assert drift(cloud.engine) == []


ROOT = Caller(
    user_id="u",
    username="admin",
    account_id="a",
    account_name="admin",
    domain_id="d",
    domain_path="/",
    role_id="r",
    role_type=RoleType.ADMIN,
)


def host_uuid(engine: Engine, host_id: int) -> str:
    with engine.begin() as conn:
        return str(conn.execute(select(host.c.uuid).where(host.c.id == host_id)).scalar_one())


def test_host_maintenance_migrates_every_vm_away(setup: Setup) -> None:
    cloud, (h0, _, _), net = setup
    vms = [running_vm(cloud, net, name) for name in ("a", "b")]
    row = maintenance.prepare_host_for_maintenance(cloud.engine, ROOT, host_uuid(cloud.engine, h0))
    assert row["resourcestate"] == "Maintenance"
    assert all(vm_state(cloud, vm)[2] not in (h0, None) for vm in vms)
    assert not on_host(cloud, h0)
    with pytest.raises(ParamError, match="resource state is Maintenance"):
        maintenance.prepare_host_for_maintenance(cloud.engine, ROOT, host_uuid(cloud.engine, h0))
    assert drift(cloud.engine) == []


def test_host_maintenance_fails_clearly_when_a_vm_cannot_move(setup: Setup) -> None:
    cloud, (h0, h1, h2), net = setup
    vm = running_vm(cloud, net, "a")
    with cloud.engine.begin() as conn:
        conn.execute(update(host).where(host.c.id.in_([h1, h2])).values(status="Disconnected"))
    with pytest.raises(
        InternalError, match=r"Unable to migrate all VMs away from host h0: VM a: .*ErrorInPrepareForMaintenance"
    ):
        maintenance.prepare_host_for_maintenance(cloud.engine, ROOT, host_uuid(cloud.engine, h0))
    with cloud.engine.begin() as conn:
        assert (
            conn.execute(select(host.c.resource_state).where(host.c.id == h0)).scalar()
            == "ErrorInPrepareForMaintenance"
        )
    assert vm_state(cloud, vm) == ("Running", "PowerOn", h0)
    assert drift(cloud.engine) == []


def test_storage_maintenance_stops_the_vms_on_the_pool(setup: Setup) -> None:
    cloud, _, net = setup
    vms = [running_vm(cloud, net, name) for name in ("a", "b")]
    stopped: list[int] = []

    def stop(engine: Engine, vm_id: int) -> None:
        with engine.begin() as conn:
            transition(conn, vm_id, VMEvent.STOP_REQUESTED)
            transition(conn, vm_id, VMEvent.OPERATION_SUCCEEDED)
        stopped.append(vm_id)

    with cloud.engine.begin() as conn:
        pool_uuid = conn.execute(select(storage_pool.c.uuid)).scalar_one()
    row = maintenance.enable_storage_maintenance(cloud.engine, ROOT, pool_uuid, stop=stop)
    assert row["state"] == "Maintenance" and sorted(stopped) == sorted(vms)
    assert drift(cloud.engine) == []


def test_storage_maintenance_ends_in_error_when_a_vm_will_not_stop(setup: Setup) -> None:
    cloud, _, net = setup
    running_vm(cloud, net, "a")

    def stop(engine: Engine, vm_id: int) -> None:
        raise InternalError("Unable to stop VM a: the hypervisor said no")

    with cloud.engine.begin() as conn:
        pool_uuid = conn.execute(select(storage_pool.c.uuid)).scalar_one()
    with pytest.raises(InternalError, match=r"VM a: Unable to stop VM a.*ErrorInMaintenance"):
        maintenance.enable_storage_maintenance(cloud.engine, ROOT, pool_uuid, stop=stop)
    with cloud.engine.begin() as conn:
        assert conn.execute(select(storage_pool.c.state)).scalar() == "ErrorInMaintenance"
