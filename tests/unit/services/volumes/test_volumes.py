"""Volume services on a real database (SQLite and PostgreSQL) over a simulated zone: create, list, attach,
detach, resize and delete with CloudStack's rules, and pool capacity that always adds up."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import hypervisor_capability, volume
from provisioner.exceptions import InsufficientCapacityError, ParamError, PermissionDeniedError
from provisioner.services.compute import capacity
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.volumes import lifecycle, operations, records
from tests.unit.services.volumes.world import GIB, World


def create(world: World, caller_name: str = "alice", **values: object) -> str:
    caller = getattr(world, caller_name)
    fields: dict[str, object] = {
        "name": "data1",
        "zoneid": world.zone_uuid,
        "diskofferingid": world.offering_uuid(world.disk_offering),
        "size": None,
        "snapshotid": None,
        "account_name": None,
        "domainid": None,
    }
    fields.update(values)
    made = run_in_transaction(world.engine, lambda conn: lifecycle.create_volume_row(conn, caller, **fields))  # type: ignore[arg-type]
    return made.uuid


def listed(world: World, caller_name: str = "alice", **filters: object) -> list[dict[str, object]]:
    caller = getattr(world, caller_name)
    rows, total = run_in_transaction(world.engine, lambda conn: records.list_volumes(conn, caller, **filters))  # type: ignore[arg-type]
    assert total == len(rows)
    return rows


def drift(world: World) -> list[str]:
    return run_in_transaction(world.engine, capacity.drift)


def test_create_list_delete_and_visibility(world: World) -> None:
    uuid = create(world)
    custom = create(world, name="big", diskofferingid=world.offering_uuid(world.custom_offering), size=5)
    bobs = create(world, "bob", name="bobs")
    (row,) = listed(world, id=uuid)
    assert (row["state"], row["type"], row["size"], row["zonename"]) == ("Allocated", "DATADISK", 20 * GIB, "z1")
    assert row["diskofferingname"] == "data" and row["account"] == "alice" and row["virtualmachineid"] is None
    assert "storage" not in row and "path" not in row  # admin-only fields stay hidden from users
    assert {r["name"] for r in listed(world)} == {"data1", "big"}
    assert listed(world, id=bobs) == []  # another account's volume is invisible
    assert listed(world, keyword="BI")[0]["id"] == custom
    # A root admin sees only its own without listall, everything with it, and the placement fields.
    assert listed(world, "admin") == []
    everything = listed(world, "admin", listall=True)
    assert len(everything) == 3 and "storageid" in everything[0]
    assert [r["id"] for r in listed(world, "admin", account_name="bob", domainid=world.alice.domain_id)] == [bobs]
    with pytest.raises(PermissionDeniedError):
        operations.delete_volume(world.engine, world.bob, uuid)
    operations.delete_volume(world.engine, world.alice, uuid)
    assert listed(world, id=uuid) == []
    with pytest.raises(ParamError, match="entity does not exist"):
        operations.delete_volume(world.engine, world.alice, uuid)
    assert drift(world) == []


def test_create_rejects_bad_sizes_in_cloudstacks_words(world: World) -> None:
    custom = world.offering_uuid(world.custom_offering)
    with pytest.raises(ParamError, match="customised: pass size"):
        create(world, diskofferingid=custom)
    with pytest.raises(ParamError, match=r"Volume size: 2000GB is out of allowed range. Max: 1024 Min:1"):
        create(world, diskofferingid=custom, size=2000)
    with pytest.raises(ParamError, match="does not allow custom size"):
        create(world, size=7)
    with pytest.raises(ParamError, match="Either disk offering id or snapshot id"):
        create(world, diskofferingid=None)
    with pytest.raises(PermissionDeniedError):
        create(world, account_name="bob", domainid=world.alice.domain_id)  # a user cannot act for another account


def test_attach_to_a_running_vm_places_creates_and_hot_plugs(world: World) -> None:
    vm = world.vm("web", running=True)
    before = world.allocated()
    uuid = create(world)
    assert world.allocated() == before  # an Allocated volume holds no pool capacity
    attached = operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    assert (attached["state"], attached["deviceid"], attached["virtualmachineid"]) == ("Ready", 1, vm["uuid"])
    assert attached["vmname"] == "web" and attached["attached"] is not None
    assert world.allocated() == before + 20 * GIB
    assert drift(world) == []
    host_row = _host_row(world, vm["placement"].host_id)
    with open_host_driver(host_row) as driver:
        disks = driver.ex_volumes(vm["instance_name"])  # type: ignore[attr-defined]
    assert [(d.device_id, d.volume_uuid) for d in disks] == [(1, uuid)]
    # Second volume: the next device id; 3 is the CD-ROM's.
    second = create(world, name="data2")
    assert operations.attach_volume(world.engine, world.alice, second, vm["uuid"], 4)["deviceid"] == 4
    with pytest.raises(ParamError, match="deviceId should be 1,2,4-7"):
        operations.attach_volume(world.engine, world.alice, create(world, name="x"), vm["uuid"], 3)
    with pytest.raises(ParamError, match="not attached to any VM"):
        operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    with pytest.raises(ParamError, match="not attached to any VM"):
        operations.delete_volume(world.engine, world.alice, uuid)

    detached = operations.detach_volume(world.engine, world.alice, uuid)
    assert detached["virtualmachineid"] is None and detached["state"] == "Ready"
    with open_host_driver(host_row) as driver:
        assert [d.volume_uuid for d in driver.ex_volumes(vm["instance_name"])] == [second]  # type: ignore[attr-defined]
    by_device = operations.detach_volume(world.engine, world.alice, vm_uuid=vm["uuid"], device_id=4)
    assert by_device["id"] == second
    operations.delete_volume(world.engine, world.alice, uuid)
    assert world.allocated() == before + 20 * GIB  # only `second` still holds its bytes
    assert drift(world) == []


def test_attach_to_a_never_started_vm_stays_allocated(world: World) -> None:
    vm = world.vm("cold", running=False)
    uuid = create(world)
    attached = operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    assert (attached["state"], attached["deviceid"]) == ("Allocated", 1)
    with world.engine.connect() as conn:
        assert conn.execute(select(volume.c.pool_id).where(volume.c.uuid == uuid)).scalar() is None
    assert drift(world) == []


def test_attach_rules_accounts_limits_and_root(world: World) -> None:
    vm = world.vm("web", running=True)
    bobs_vm = world.vm("bobvm", running=True, owner="bob")
    uuid = create(world)
    with pytest.raises(PermissionDeniedError):
        operations.attach_volume(world.engine, world.alice, uuid, bobs_vm["uuid"])
    with pytest.raises(PermissionDeniedError):
        operations.attach_volume(world.engine, world.bob, uuid, bobs_vm["uuid"])
    with pytest.raises(ParamError, match="different accounts"):
        operations.attach_volume(world.engine, world.admin, uuid, bobs_vm["uuid"])
    with world.engine.begin() as conn:
        conn.execute(
            insert(hypervisor_capability).values(
                hypervisor_type="Simulator", hypervisor_version="default", max_data_volumes_limit=1
            )
        )
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    with pytest.raises(ParamError, match=r"maximum number of data disks \(1\)"):
        operations.attach_volume(world.engine, world.alice, create(world, name="more"), vm["uuid"])
    root = listed(world, virtualmachineid=vm["uuid"], type="ROOT")[0]
    with pytest.raises(ParamError, match="Root volume detach is not supported"):
        operations.detach_volume(world.engine, world.alice, root["id"])
    with pytest.raises(ParamError, match="valid type: DATADISK"):
        operations.attach_volume(world.engine, world.alice, root["id"], vm["uuid"])
    assert drift(world) == []


def test_resize_moves_the_reservation_and_needs_shrinkok(world: World) -> None:
    vm = world.vm("web", running=False)
    uuid = create(world, diskofferingid=world.offering_uuid(world.custom_offering), size=10)
    resized = operations.resize_volume(world.engine, world.alice, uuid, size=15)
    assert resized["size"] == 15 * GIB and resized["state"] == "Allocated"
    running = world.vm("web2", running=True)
    before = world.allocated()
    operations.attach_volume(world.engine, world.alice, uuid, running["uuid"])
    assert world.allocated() == before + 15 * GIB
    assert operations.resize_volume(world.engine, world.alice, uuid, size=30)["size"] == 30 * GIB
    assert world.allocated() == before + 30 * GIB
    with pytest.raises(ParamError, match="would shrink the volume"):
        operations.resize_volume(world.engine, world.alice, uuid, size=5)
    assert operations.resize_volume(world.engine, world.alice, uuid, size=5, shrinkok=True)["state"] == "Ready"
    assert world.allocated() == before + 5 * GIB
    # Growing past what the pool may hold (100 GiB * factor 2 * threshold 0.85) is a 533; nothing changes.
    with pytest.raises(InsufficientCapacityError, match="cannot take"):
        operations.resize_volume(world.engine, world.alice, uuid, size=1000)
    assert listed(world, id=uuid)[0]["size"] == 5 * GIB
    with pytest.raises(ParamError, match="fixed-size disk offering"):
        operations.resize_volume(world.engine, world.alice, create(world, name="fixed"), size=50)
    assert vm["id"] and drift(world) == []


def test_pool_full_is_533_and_leaves_the_volume_allocated(world: World) -> None:
    vm = world.vm("web", running=True)
    huge = create(world, name="huge", diskofferingid=world.offering_uuid(world.custom_offering), size=1000)
    with pytest.raises(InsufficientCapacityError, match="No storage pool in zone z1 can hold volume huge"):
        operations.attach_volume(world.engine, world.alice, huge, vm["uuid"])
    row = listed(world, id=huge)[0]
    assert row["state"] == "Allocated" and row["virtualmachineid"] is None
    assert drift(world) == []


def _host_row(world: World, host_id: int) -> dict[str, object]:
    from provisioner.db.schema import host

    with world.engine.connect() as conn:
        return dict(conn.execute(select(host).where(host.c.id == host_id)).mappings().one())


def test_migrate_moves_the_reservation_between_pools(world: World) -> None:
    from provisioner.services.volumes import migration

    vm = world.vm("web", running=True)
    uuid = create(world)
    placed = operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    source = listed(world, "admin", id=uuid)[0]["storageid"]
    target = next(p for p in _pool_uuids(world) if p != source)
    with pytest.raises(ParamError, match="VM must be stopped or the disk detached"):
        migration.migrate_volume(world.engine, world.alice, uuid, target)
    operations.detach_volume(world.engine, world.alice, uuid)
    with pytest.raises(ParamError, match="already on storage pool"):
        migration.migrate_volume(world.engine, world.alice, uuid, source)
    before = _pool_bytes(world)
    moved = migration.migrate_volume(world.engine, world.alice, uuid, target)
    assert moved["state"] == "Ready" and placed["state"] == "Ready"
    after = _pool_bytes(world)
    assert after[target] == before[target] + 20 * GIB and after[source] == before[source] - 20 * GIB
    assert listed(world, "admin", id=uuid)[0]["storageid"] == target
    assert drift(world) == []


def _pool_uuids(world: World) -> list[str]:
    from provisioner.db.schema import storage_pool

    with world.engine.connect() as conn:
        return [str(u) for u in conn.execute(select(storage_pool.c.uuid).order_by(storage_pool.c.id)).scalars()]


def _pool_bytes(world: World) -> dict[str, int]:
    from provisioner.db.schema import storage_pool

    with world.engine.connect() as conn:
        rows = conn.execute(select(storage_pool.c.uuid, storage_pool.c.allocated_bytes)).all()
    return {str(u): int(b) for u, b in rows}


def test_create_with_a_vm_attaches_in_the_same_job(world: World) -> None:
    vm = world.vm("web", running=True)
    uuid = create(world, name="direct")
    made = operations.create_volume(world.engine, world.alice, uuid, vm_uuid=vm["uuid"])
    assert (made["state"], made["virtualmachineid"], made["deviceid"]) == ("Ready", vm["uuid"], 1)
    assert drift(world) == []
