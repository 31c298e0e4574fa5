"""A server killed in the middle of a volume, snapshot or VM snapshot job: the reconcilers return what the
job touched to stable states, and pool capacity still adds up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import async_job, snapshot, vm_snapshot, volume
from provisioner.services.jobs.recovery import fail_orphans
from provisioner.services.snapshots import vm_snapshots, volume_snapshots
from provisioner.services.volumes import attachment, lifecycle, operations
from tests.unit.services.volumes.test_volumes import create, drift
from tests.unit.services.volumes.world import GIB, World


def orphan(world: World, conn: Connection, kind: str, instance_id: str | None, **params: Any) -> None:
    """An in-progress job of a dead server (msid 77) acting on ``instance_id``."""
    conn.execute(
        insert(async_job).values(
            user_id=world.cloud.user_id,
            account_id=world.cloud.accounts["alice"],
            domain_id=world.cloud.domain_id,
            cmd="x",
            params=params,
            instance_type=kind,
            instance_id=instance_id,
            owner_msid=77,
        )
    )


def recover(world: World) -> int:
    return len(
        run_in_transaction(world.engine, lambda conn: fail_orphans(conn, own_msid=77, include_own=True, dead_msids=[]))
    )


def volume_row(world: World, uuid: str) -> Any:
    with world.engine.connect() as conn:
        return conn.execute(select(volume).where(volume.c.uuid == uuid)).one()


def test_a_crash_while_creating_on_attach_unlinks_and_releases(world: World) -> None:
    vm = world.vm("web", running=True)
    uuid = create(world)
    before = world.allocated()
    with world.engine.begin() as conn:
        attachment.begin_attach(conn, world.alice, uuid, vm["uuid"], None)  # Creating, pool reserved, linked
        orphan(world, conn, "Volume", uuid)
    assert world.allocated() == before + 20 * GIB
    assert recover(world) == 1
    row = volume_row(world, uuid)
    assert (row.state, row.pool_id, row.vm_id, row.device_id) == ("Allocated", None, None, None)
    assert world.allocated() == before and drift(world) == []


def test_a_crash_while_resizing_returns_to_ready(world: World) -> None:
    vm = world.vm("web", running=True)
    uuid = create(world, diskofferingid=world.offering_uuid(world.custom_offering), size=2)
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    with world.engine.begin() as conn:
        lifecycle.begin_resize(conn, world.alice, uuid, size=3, diskofferingid=None, shrinkok=False)
        orphan(world, conn, "Volume", uuid)
    assert volume_row(world, uuid).state == "Resizing"
    recover(world)
    assert (volume_row(world, uuid).state, volume_row(world, uuid).size) == ("Ready", 3 * GIB)
    assert drift(world) == []


def test_crashed_snapshot_jobs(world: World) -> None:
    vm = world.vm("web", running=True)
    uuid = create(world)
    operations.attach_volume(world.engine, world.alice, uuid, vm["uuid"])
    snap = run_in_transaction(
        world.engine, lambda conn: volume_snapshots.create_snapshot_row(conn, world.alice, uuid, None)
    )
    made = run_in_transaction(
        world.engine,
        lambda conn: vm_snapshots.create_vm_snapshot_row(
            conn, world.alice, vm["uuid"], name="s", description=None, snapshotmemory=True
        ),
    )
    ready = vm_snapshots.take_vm_snapshot(world.engine, world.alice, made)
    with world.engine.begin() as conn:
        orphan(world, conn, "Snapshot", snap)
        conn.execute(vm_snapshot.update().where(vm_snapshot.c.uuid == made).values(state="Reverting"))
        orphan(world, conn, "VMSnapshot", None, vmsnapshotid=made)  # revertToVMSnapshot's job has no instance id
    assert recover(world) == 2
    with world.engine.connect() as conn:
        assert conn.execute(select(snapshot.c.state).where(snapshot.c.uuid == snap)).scalar_one() == "Error"
        assert conn.execute(select(vm_snapshot.c.state).where(vm_snapshot.c.uuid == made)).scalar_one() == "Ready"
    assert ready["state"] == "Ready"
