"""Volume snapshots and VM snapshots on a real database over a simulated zone: states, CloudStack's rules,
the current flag and parent chain, volumes made from snapshots, and capacity that adds up."""

from __future__ import annotations

import pytest

from provisioner.db.engine import run_in_transaction
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.snapshots import vm_snapshots, volume_snapshots
from provisioner.services.volumes import lifecycle, operations
from tests.unit.services.volumes.test_volumes import _host_row, create, drift, listed
from tests.unit.services.volumes.world import GIB, World


def snapshot_of(world: World, volume_uuid: str, caller: str = "alice", name: str | None = None) -> dict[str, object]:
    who = getattr(world, caller)
    uuid = run_in_transaction(
        world.engine, lambda conn: volume_snapshots.create_snapshot_row(conn, who, volume_uuid, name)
    )
    return volume_snapshots.take_snapshot(world.engine, who, uuid)


def snapshots(world: World, caller: str = "alice", **filters: object) -> list[dict[str, object]]:
    who = getattr(world, caller)
    rows, _ = run_in_transaction(world.engine, lambda conn: volume_snapshots.list_snapshots(conn, who, **filters))  # type: ignore[arg-type]
    return rows


def test_volume_snapshot_lifecycle_and_volume_from_snapshot(world: World) -> None:
    vm = world.vm("web", running=True)
    uuid = create(world)
    with pytest.raises(ParamError, match=f"VolumeId: {uuid} is not in Ready state but Allocated"):
        snapshot_of(world, uuid)
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    snap = snapshot_of(world, uuid)
    assert (snap["state"], snap["volumeid"], snap["snapshottype"], snap["locationtype"]) == (
        "BackedUp",
        uuid,
        "MANUAL",
        "PRIMARY",
    )
    assert str(snap["name"]).startswith("web_data1_") and snap["virtualsize"] == 20 * GIB
    assert [s["id"] for s in snapshots(world, volumeid=uuid)] == [snap["id"]]
    assert snapshots(world, "bob") == []
    with pytest.raises(PermissionDeniedError):
        volume_snapshots.delete_snapshot(world.engine, world.bob, str(snap["id"]))

    # createVolume from the snapshot: the job places it (Ready) with the snapshot's size.
    before = world.allocated()
    made = run_in_transaction(
        world.engine,
        lambda conn: lifecycle.create_volume_row(
            conn,
            world.alice,
            name="restored",
            zoneid=None,
            diskofferingid=None,
            size=None,
            snapshotid=str(snap["id"]),
            account_name=None,
            domainid=None,
        ),
    )
    restored = operations.create_volume(world.engine, world.alice, made.uuid, snapshot_uuid=str(snap["id"]))
    assert (restored["state"], restored["size"], restored["virtualmachineid"]) == ("Ready", 20 * GIB, None)
    assert world.allocated() == before + 20 * GIB

    # Reverting needs the VM stopped (a disk snapshot of an in-use disk).
    with pytest.raises(ParamError, match="not in the shutdown state"):
        volume_snapshots.revert_snapshot(world.engine, world.alice, str(snap["id"]))
    volume_snapshots.delete_snapshot(world.engine, world.alice, str(snap["id"]))
    assert snapshots(world, id=snap["id"]) == []
    assert drift(world) == []


def vm_snap(world: World, vm_uuid: str, name: str, *, memory: bool = False, caller: str = "alice") -> dict[str, object]:
    who = getattr(world, caller)
    uuid = run_in_transaction(
        world.engine,
        lambda conn: vm_snapshots.create_vm_snapshot_row(
            conn, who, vm_uuid, name=name, description=f"{name} text", snapshotmemory=memory
        ),
    )
    return vm_snapshots.take_vm_snapshot(world.engine, who, uuid)


def vm_snaps(world: World, caller: str = "alice", **filters: object) -> dict[str, dict[str, object]]:
    who = getattr(world, caller)
    rows, _ = run_in_transaction(world.engine, lambda conn: vm_snapshots.list_vm_snapshots(conn, who, **filters))  # type: ignore[arg-type]
    return {str(r["displayname"]): r for r in rows}


def test_vm_snapshots_chain_current_revert_and_delete(world: World) -> None:
    vm = world.vm("web", running=True)
    first = vm_snap(world, vm["uuid"], "first")
    assert (first["state"], first["type"], first["current"], first["parent"]) == ("Ready", "Disk", True, None)
    assert str(first["name"]).startswith(vm["instance_name"] + "_VS_")
    second = vm_snap(world, vm["uuid"], "second", memory=True)
    assert (second["type"], second["parent"], second["parentName"]) == ("DiskAndMemory", first["id"], "first")
    listed_now = vm_snaps(world, virtualmachineid=vm["uuid"])
    assert {name: row["current"] for name, row in listed_now.items()} == {"first": False, "second": True}
    host_row = _host_row(world, vm["placement"].host_id)
    with open_host_driver(host_row) as driver:
        assert [s.name for s in driver.list_snapshots(vm["instance_name"])] == [first["name"], second["name"]]

    with pytest.raises(ParamError, match="already exists"):
        vm_snap(world, vm["uuid"], "first")
    with pytest.raises(PermissionDeniedError):
        vm_snap(world, vm["uuid"], "bobs", caller="bob")
    # A disk-only snapshot is reverted only with the VM stopped; a memory one while it runs.
    with pytest.raises(ParamError, match="not in the state as Shutdown"):
        vm_snapshots.revert_to_vm_snapshot(world.engine, world.alice, str(first["id"]))
    assert vm_snapshots.revert_to_vm_snapshot(world.engine, world.alice, str(second["id"])) == vm["id"]
    # Volumes cannot be attached or detached while the VM has VM snapshots.
    with pytest.raises(ParamError, match="does not have VM snapshots"):
        operations.attach_volume(world.engine, world.alice, create(world), vm["uuid"])

    # Deleting the parent moves the child up the chain.
    vm_snapshots.delete_vm_snapshot(world.engine, world.alice, str(first["id"]))
    remaining = vm_snaps(world)
    assert list(remaining) == ["second"] and remaining["second"]["parent"] is None
    assert remaining["second"]["current"] is True
    vm_snapshots.delete_vm_snapshot(world.engine, world.alice, str(second["id"]))
    assert vm_snaps(world) == {}
    with open_host_driver(host_row) as driver:
        assert driver.list_snapshots(vm["instance_name"]) == []
    assert listed(world, virtualmachineid=vm["uuid"])  # its ROOT volume is untouched


def test_vm_snapshot_rules_for_stopped_and_new_vms(world: World) -> None:
    cold = world.vm("cold", running=False)
    with pytest.raises(ParamError, match="never been started"):
        vm_snap(world, cold["uuid"], "s")
    with pytest.raises(ParamError, match="Can not snapshot memory when VM is not in Running state"):
        vm_snap(world, cold["uuid"], "s", memory=True)
