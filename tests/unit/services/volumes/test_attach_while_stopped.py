"""A volume attached to a stopped VM reaches only the database; the next start gives the VM, still defined on its
host, the data disks it has then, as a hot attach would."""

from __future__ import annotations

from sqlalchemy import select

from provisioner.db.schema import host
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle import power
from provisioner.services.volumes import operations
from tests.unit.services.volumes.test_volumes import create
from tests.unit.services.volumes.world import World


def test_a_volume_attached_while_stopped_is_on_the_vm_at_its_next_start(world: World) -> None:
    vm = world.vm("cold", running=True)
    power.stop(world.engine, vm["id"], forced=True)
    uuid = create(world)
    attached = operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    assert (attached["state"], attached["deviceid"]) == ("Ready", 1)
    with world.engine.connect() as conn:
        row = dict(conn.execute(select(host).where(host.c.id == vm["placement"].host_id)).mappings().one())
    with open_host_driver(row) as driver:
        assert driver.ex_volumes(vm["instance_name"]) == ()  # type: ignore[attr-defined]

    power.start(world.engine, vm["id"], world.cloud.zone_id)
    with open_host_driver(row) as driver:
        disks = driver.ex_volumes(vm["instance_name"])  # type: ignore[attr-defined]
    assert [(d.device_id, d.volume_uuid) for d in disks] == [(1, uuid)]


def test_a_volume_detached_while_stopped_is_gone_from_the_definition(world: World) -> None:
    # Else the next start would still open it, and fail once the volume is deleted.
    vm = world.vm("cold-detach", running=True)
    uuid = create(world)
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    power.stop(world.engine, vm["id"], forced=True)
    with world.engine.connect() as conn:
        row = dict(conn.execute(select(host).where(host.c.id == vm["placement"].host_id)).mappings().one())
    with open_host_driver(row) as driver:
        assert [d.volume_uuid for d in driver.ex_volumes(vm["instance_name"])] == [uuid]  # type: ignore[attr-defined]

    detached = operations.detach_volume(world.engine, world.alice, uuid)
    assert detached["virtualmachineid"] is None
    with open_host_driver(row) as driver:
        assert driver.ex_volumes(vm["instance_name"]) == ()  # type: ignore[attr-defined]
    operations.delete_volume(world.engine, world.alice, uuid)
    power.start(world.engine, vm["id"], world.cloud.zone_id)
    with open_host_driver(row) as driver:
        assert driver.ex_volumes(vm["instance_name"]) == ()  # type: ignore[attr-defined]


def test_a_volume_of_a_stopped_vm_never_defined_detaches_in_the_database(world: World) -> None:
    vm = world.vm("never-started", running=False)
    uuid = create(world)
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    assert operations.detach_volume(world.engine, world.alice, uuid)["virtualmachineid"] is None
