"""Volume snapshots: ``createSnapshot``, ``listSnapshots``, ``deleteSnapshot``, ``revertSnapshot``.

A snapshot goes Allocated → Creating → CreatedOnPrimary → BackedUp (CloudStack's states; Error when the
storage fails). It stays on primary storage (``locationtype`` PRIMARY, as KVM with
``snapshot.backup.to.secondary=false``): on file and NFS pools it is an internal qcow2 snapshot taken
with ``qemu-img snapshot`` on the volume's disk, so its volume must not be in use by a running VM
(use ``createVMSnapshot`` for those); simulated pools only record it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Select, func, insert, select

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import new_uuid, snapshot, storage_pool, utcnow, vm_instance, volume, zone
from provisioner.exceptions import ParamError
from provisioner.services.common import contains
from provisioner.services.compute.states import VolumeState
from provisioner.services.identity.resource_limits import check_resource_limit
from provisioner.services.principal import Caller
from provisioner.services.tags import register_resource_type, tagged_with, tags_by_resource
from provisioner.services.volumes import disks
from provisioner.services.volumes.attachment import pool_driver_for
from provisioner.services.volumes.ownership import (
    Scope,
    check_owner_access,
    live_row,
    move_state,
    owned_page,
    owner_fields,
    owner_lookup,
    with_owner,
)

RESOURCE_TYPE = "Snapshot"

ALLOCATED, CREATING, ON_PRIMARY, BACKED_UP = "Allocated", "Creating", "CreatedOnPrimary", "BackedUp"
DESTROYED, ERROR = "Destroyed", "Error"
#: States ``deleteSnapshot`` accepts.
DELETABLE = frozenset({BACKED_UP, ON_PRIMARY, ERROR, ALLOCATED})


def _query() -> Select[Any]:
    query = (
        select(
            snapshot,
            volume.c.uuid.label("volume_uuid"),
            volume.c.name.label("volume_name"),
            volume.c.volume_type.label("volume_type"),
            volume.c.state.label("volume_state"),
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
        )
        .join(volume, volume.c.id == snapshot.c.volume_id)
        .join(zone, zone.c.id == snapshot.c.zone_id)
    )
    return with_owner(query, snapshot)


def wire_row(m: RowMapping, tags: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A snapshot as ``SnapshotResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "volumeid": m["volume_uuid"],
        "volumename": m["volume_name"],
        "volumetype": m["volume_type"],
        "volumestate": m["volume_state"],
        "snapshottype": m["snapshot_type"],
        "intervaltype": m["interval_type"],
        "state": m["state"],
        "created": m["created"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        **owner_fields(m),
        "physicalsize": m["physical_size"],
        "virtualsize": m["size"],
        "locationtype": m["location_type"],
        "hypervisor": m["hypervisor_type"],
        "revertable": m["state"] == BACKED_UP,
        "tags": list(tags),
    }


def snapshot_response(conn: Connection, snapshot_id: int) -> dict[str, Any]:
    """One snapshot as its wire row."""
    m = conn.execute(_query().where(snapshot.c.id == snapshot_id)).mappings().one()
    return wire_row(m, tags_by_resource(conn, RESOURCE_TYPE, [m["uuid"]]).get(m["uuid"], []))


def _checked(conn: Connection, caller: Caller, uuid: str, param: str = "id") -> Any:
    row = live_row(conn, snapshot, uuid, param, snapshot.c.removed.is_(None))
    check_owner_access(conn, caller, row.account_id, row.domain_id, f"snapshot {row.name}")
    return row


def _set(conn: Connection, row: Any, state: str, **values: Any) -> None:
    move_state(conn, snapshot, row, state, f"Snapshot {row.name}", **values)


def _vm_of(conn: Connection, vol: Any) -> Any | None:
    if vol.vm_id is None:
        return None
    return conn.execute(select(vm_instance).where(vm_instance.c.id == vol.vm_id)).one()


def create_snapshot_row(conn: Connection, caller: Caller, volume_uuid: str, name: str | None) -> str:
    """``createSnapshot``'s create step: an Allocated snapshot of a Ready volume.

    Raises:
        ParamError: the volume is not Ready, or its VM is neither Running nor Stopped (431).
    """
    from provisioner.services.volumes.lifecycle import checked_volume

    vol = checked_volume(conn, caller, volume_uuid, "volumeid")
    if vol.state != VolumeState.READY.value:
        raise ParamError(f"VolumeId: {volume_uuid} is not in Ready state but {vol.state}. Cannot take snapshot.")
    vm = _vm_of(conn, vol)
    if vm is not None and vm.state not in (VMState.RUNNING.value, VMState.STOPPED.value):
        raise ParamError(
            f"VolumeId: {volume_uuid} is attached to VM {vm.name} in state {vm.state}: it must be Running or Stopped"
        )
    check_resource_limit(conn, vol.account_id, "snapshot")  # 535 past the account's or a domain's limit
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    uuid = new_uuid()
    conn.execute(
        insert(snapshot).values(
            uuid=uuid,
            name=name or f"{vm.display_name or vm.name if vm is not None else 'detached'}_{vol.name}_{stamp}",
            volume_id=vol.id,
            account_id=vol.account_id,
            domain_id=vol.domain_id,
            zone_id=vol.zone_id,
            state=ALLOCATED,
            size=vol.size,
            hypervisor_type=vm.hypervisor_type if vm is not None else None,
        )
    )
    return uuid


def _disk_work(conn: Connection, row: Any) -> tuple[disks.Disk, bool]:
    """The disk of a snapshot's volume, and whether the volume's VM runs."""
    vol = conn.execute(select(volume).where(volume.c.id == row.volume_id)).one()
    if vol.pool_id is None or not vol.path:
        raise ParamError(f"Volume {vol.name} has no disk on primary storage")
    pool = dict(conn.execute(select(storage_pool).where(storage_pool.c.id == vol.pool_id)).mappings().one())
    vm = _vm_of(conn, vol)
    disk = disks.Disk(pool_driver_for(conn, pool), pool, str(vol.path))
    return disk, vm is not None and vm.state == VMState.RUNNING.value


def _qemu_snapshot(disk: disks.Disk, running: bool, flag: str, name: str) -> None:
    """``qemu-img snapshot -c|-a|-d name`` on the disk (simulated pools record nothing on disk)."""
    if disk.driver == disks.SIMULATOR:
        return
    if running:
        raise ParamError(
            "The volume is in use by a running VM: stop the VM first, or take a VM snapshot (createVMSnapshot)"
        )
    disks.qemu_img_on_disk(disk.driver, disk.pool, disk.name, ["snapshot", flag, name])


def take_snapshot(engine: Engine, caller: Caller, uuid: str) -> dict[str, Any]:
    """``createSnapshot``'s job: Creating, the snapshot on primary storage, BackedUp (Error if the storage fails)."""

    def begin(conn: Connection) -> tuple[Any, tuple[disks.Disk, bool]]:
        row = _checked(conn, caller, uuid)
        work = _disk_work(conn, row)
        _set(conn, row, CREATING)
        return row, work

    row, (disk, running) = run_in_transaction(engine, begin)
    try:
        _qemu_snapshot(disk, running, "-c", row.uuid)
    except BaseException:
        run_in_transaction(engine, lambda conn: _set(conn, _fresh(conn, row.id), ERROR))
        raise

    def finish(conn: Connection) -> None:
        _set(conn, _fresh(conn, row.id), ON_PRIMARY, path=disk.name)
        _set(conn, _fresh(conn, row.id), BACKED_UP)

    run_in_transaction(engine, finish)
    return run_in_transaction(engine, lambda conn: snapshot_response(conn, row.id))


def _fresh(conn: Connection, snapshot_id: int) -> Any:
    return conn.execute(select(snapshot).where(snapshot.c.id == snapshot_id)).one()


def delete_snapshot(engine: Engine, caller: Caller, uuid: str) -> None:
    """``deleteSnapshot``: the snapshot leaves the disk and becomes Destroyed (removed from lists)."""

    def begin(conn: Connection) -> tuple[Any, tuple[disks.Disk, bool] | None]:
        row = _checked(conn, caller, uuid)
        if row.state not in DELETABLE:
            raise ParamError(f"Snapshot {row.name} is in state {row.state} and cannot be deleted now; try again later")
        vol = conn.execute(select(volume.c.removed, volume.c.path).where(volume.c.id == row.volume_id)).one()
        work = _disk_work(conn, row) if row.state != ALLOCATED and vol.removed is None and vol.path else None
        return row, work

    row, work = run_in_transaction(engine, begin)
    if work is not None and row.state in (BACKED_UP, ON_PRIMARY):
        _qemu_snapshot(work[0], False, "-d", row.uuid)
    run_in_transaction(engine, lambda conn: _set(conn, _fresh(conn, row.id), DESTROYED, removed=utcnow()))


def revert_snapshot(engine: Engine, caller: Caller, uuid: str) -> dict[str, Any]:
    """``revertSnapshot``: the volume's disk returns to the snapshot; its VM must be stopped.

    Raises:
        ParamError: the snapshot is not BackedUp, or the volume's VM is running (431).
    """

    def begin(conn: Connection) -> tuple[Any, tuple[disks.Disk, bool]]:
        row = _checked(conn, caller, uuid)
        if row.state != BACKED_UP:
            raise ParamError(f"Snapshot {row.name} is in state {row.state}: only BackedUp snapshots can be reverted")
        work = _disk_work(conn, row)
        if work[1]:
            raise ParamError(
                "The VM the specified disk is attached to is not in the shutdown state: stop it before reverting"
            )
        return row, work

    row, (disk, running) = run_in_transaction(engine, begin)
    _qemu_snapshot(disk, running, "-a", row.uuid)
    return run_in_transaction(engine, lambda conn: snapshot_response(conn, row.id))


def restore_into(engine: Engine, snapshot_id: int, target: disks.Disk) -> None:
    """Write a snapshot's data into the new disk ``target`` (``createVolume`` from a snapshot)."""
    source, _ = run_in_transaction(engine, lambda conn: _disk_work(conn, _fresh(conn, snapshot_id)))
    if target.driver == disks.SIMULATOR and source.driver == disks.SIMULATOR:
        return
    uuid = run_in_transaction(engine, lambda conn: str(_fresh(conn, snapshot_id).uuid))
    disks.copy_snapshot(source, uuid, target)


def list_snapshots(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    volumeid: str | None = None,
    snapshottype: str | None = None,
    intervaltype: str | None = None,
    zoneid: str | None = None,
    keyword: str | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    listall: bool = False,
    isrecursive: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """``listSnapshots``: one page of the snapshots the caller may see, and the total."""
    conditions: list[Any] = [snapshot.c.removed.is_(None)]
    if id:
        conditions.append(snapshot.c.uuid == id.lower())
    if ids:
        conditions.append(snapshot.c.uuid.in_([item.lower() for item in ids]))
    if name:
        conditions.append(snapshot.c.name == name)
    if keyword:
        conditions.append(contains(snapshot.c.name, keyword))
    if volumeid:
        conditions.append(
            snapshot.c.volume_id == select(volume.c.id).where(volume.c.uuid == volumeid.lower()).scalar_subquery()
        )
    if snapshottype:
        conditions.append(func.upper(snapshot.c.snapshot_type) == snapshottype.upper())
    if intervaltype:
        conditions.append(func.upper(snapshot.c.interval_type) == intervaltype.upper())
    if zoneid:
        conditions.append(
            snapshot.c.zone_id == select(zone.c.id).where(zone.c.uuid == zoneid.lower()).scalar_subquery()
        )
    if tags:
        conditions.append(tagged_with(RESOURCE_TYPE, snapshot.c.uuid, tags))
    rows, total = owned_page(
        conn,
        caller,
        snapshot,
        _query(),
        conditions,
        scope=Scope(account_name, domainid, listall, isrecursive),
        by_id=bool(id or ids),
        resource_type=RESOURCE_TYPE,
        page=page,
        pagesize=pagesize,
    )
    return [wire_row(m, found) for m, found in rows], total


register_resource_type(RESOURCE_TYPE, owner_lookup(snapshot, lambda: snapshot.c.removed.is_(None)))
