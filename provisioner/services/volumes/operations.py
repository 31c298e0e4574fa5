"""The volume commands end to end: a transaction to decide, the storage or hypervisor call, a transaction to record.

No transaction is open while a driver runs. When the driver fails, the undo step returns the volume
(and its pool reservation) to where it was, so nothing is left Creating or Resizing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import snapshot, storage_pool, volume
from provisioner.exceptions import DriverError
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.states import VolumeState
from provisioner.services.principal import Caller
from provisioner.services.volumes import attachment, disks, lifecycle
from provisioner.services.volumes.placement import reserve_volume_pool
from provisioner.services.volumes.records import volume_response

log = logging.getLogger(__name__)

__all__ = [
    "attach_volume",
    "create_volume",
    "delete_volume",
    "detach_volume",
    "resize_volume",
]


def _response(engine: Engine, caller: Caller, volume_id: int) -> dict[str, Any]:
    return run_in_transaction(engine, lambda conn: volume_response(conn, caller, volume_id))


def _tell_hypervisor(work: attachment.DiskWork, path: str | None, *, attach: bool) -> None:
    if work.host is None or work.pool is None or work.pool_driver is None or path is None:
        return
    with open_host_driver(work.host) as driver:
        spec = disks.host_volume_spec(
            work.pool_driver, work.pool, path, work.device_id, work.volume_uuid, mounts=driver.mounts
        )
        if attach:
            driver.attach_volume(work.instance_name, spec)
        else:
            driver.detach_volume(work.instance_name, spec)


def _create_disk(engine: Engine, work: attachment.DiskWork) -> str:
    """The new volume's disk on its pool (for an iSCSI pool: a LUN no other volume uses)."""
    assert work.pool is not None and work.pool_driver is not None and work.create_size is not None
    pool_id = int(work.pool["id"])
    taken = run_in_transaction(engine, lambda conn: attachment.paths_on_pool(conn, pool_id))
    return disks.create_disk(work.pool_driver, work.pool, disks.disk_name(work.volume_uuid), work.create_size, taken)


def attach_volume(
    engine: Engine, caller: Caller, uuid: str, vm_uuid: str, device_id: int | None = None
) -> dict[str, Any]:
    """``attachVolume``: link, create the disk on first use, and hot-plug it into a running VM.

    Raises:
        ApiError: the checks of :func:`attachment.begin_attach`.
        DriverError: the storage or hypervisor failed (the volume is left detached, as before).
    """
    work = run_in_transaction(engine, lambda conn: attachment.begin_attach(conn, caller, uuid, vm_uuid, device_id))
    path = work.path
    try:
        if work.create_size is not None and work.pool is not None and work.pool_driver is not None:
            path = _create_disk(engine, work)
        _tell_hypervisor(work, path, attach=True)
        run_in_transaction(engine, lambda conn: attachment.finish_attach(conn, work, path))
    except BaseException:
        # A LUN chosen on an iSCSI pool was only a claim: nothing was made that the volume must keep.
        kept = None if work.pool_driver == disks.ISCSI and work.create_size is not None else path
        run_in_transaction(engine, lambda conn: attachment.undo_attach(conn, work, kept))
        raise
    return _response(engine, caller, work.volume_id)


def detach_volume(
    engine: Engine,
    caller: Caller,
    uuid: str | None = None,
    vm_uuid: str | None = None,
    device_id: int | None = None,
) -> dict[str, Any]:
    """``detachVolume``: hot-unplug from a running VM, then unlink; the volume keeps its disk and pool."""
    work = run_in_transaction(engine, lambda conn: attachment.begin_detach(conn, caller, uuid, vm_uuid, device_id))
    try:
        _tell_hypervisor(work, work.path, attach=False)
    except DriverError as exc:
        if not work.stopped_on_host:
            raise
        # CloudStack detaches from a stopped VM in the database alone; editing the definition is best effort
        # (the VM may never have been defined there; a host that is down keeps the disk in it).
        log.warning(
            "detaching volume %s from stopped VM %s on its last host: %s", work.volume_uuid, work.instance_name, exc
        )
    run_in_transaction(engine, lambda conn: attachment.finish_detach(conn, work))
    return _response(engine, caller, work.volume_id)


def _place_from_snapshot(conn: Connection, volume_id: int, snapshot_id: int) -> attachment.DiskWork:
    """Reserve a pool for a volume made from a snapshot: the snapshot's volume's pool when it fits, else any."""
    row = conn.execute(select(volume).where(volume.c.id == volume_id)).one()
    snap = conn.execute(select(snapshot).where(snapshot.c.id == snapshot_id)).one()
    source = conn.execute(select(volume.c.pool_id).where(volume.c.id == snap.volume_id)).one()
    cluster_id = None
    if source.pool_id is not None:
        cluster_id = conn.execute(select(storage_pool.c.cluster_id).where(storage_pool.c.id == source.pool_id)).scalar()
    request = attachment.volume_request(conn, row)
    pool_id = reserve_volume_pool(conn, request, zone_id=row.zone_id, account_id=row.account_id, cluster_id=cluster_id)
    lifecycle.set_state(conn, row, VolumeState.CREATING, pool_id=pool_id)
    pool = attachment.pool_row(conn, pool_id)
    return attachment.DiskWork(
        row.id, row.uuid, 0, pool, attachment.pool_driver_for(conn, pool), int(row.size), None, None, ""
    )


def _ids(conn: Connection, volume_uuid: str, snapshot_uuid: str | None) -> tuple[int, int | None]:
    volume_id = conn.execute(select(volume.c.id).where(volume.c.uuid == volume_uuid.lower())).scalar_one()
    if not snapshot_uuid:
        return int(volume_id), None
    snapshot_id = conn.execute(select(snapshot.c.id).where(snapshot.c.uuid == snapshot_uuid.lower())).scalar_one()
    return int(volume_id), int(snapshot_id)


def create_volume(
    engine: Engine,
    caller: Caller,
    volume_uuid: str,
    *,
    snapshot_uuid: str | None = None,
    vm_uuid: str | None = None,
    device_id: int | None = None,
) -> dict[str, Any]:
    """The job of ``createVolume``: from a snapshot, put the disk on a pool; with a VM, attach it.

    The row was made Allocated by the create step (:func:`lifecycle.create_volume_row`).
    """
    volume_id, snapshot_id = run_in_transaction(engine, lambda conn: _ids(conn, volume_uuid, snapshot_uuid))
    if snapshot_id is not None:
        from provisioner.services.snapshots.volume_snapshots import restore_into

        work = run_in_transaction(engine, lambda conn: _place_from_snapshot(conn, volume_id, snapshot_id))
        path: str | None = None
        try:
            assert work.pool is not None and work.pool_driver is not None and work.create_size is not None
            path = _create_disk(engine, work)
            restore_into(engine, snapshot_id, disks.Disk(work.pool_driver, work.pool, path))
            run_in_transaction(engine, lambda conn: attachment.finish_attach(conn, work, path))
        except BaseException:
            run_in_transaction(engine, lambda conn: attachment.undo_attach(conn, work, None))
            if path is not None and work.pool is not None and work.pool_driver is not None:
                disks.delete_disk(work.pool_driver, work.pool, path)
            raise
    if vm_uuid:
        return attach_volume(engine, caller, volume_uuid, vm_uuid, device_id)
    return _response(engine, caller, volume_id)


def delete_volume(engine: Engine, caller: Caller, uuid: str) -> None:
    """``deleteVolume``: a detached volume's disk is deleted and its pool reservation released."""
    row, pool = run_in_transaction(engine, lambda conn: lifecycle.begin_delete(conn, caller, uuid))
    if pool is None:
        return
    driver_name = run_in_transaction(engine, lambda conn: attachment.pool_driver_for(conn, dict(pool)))
    try:
        disks.delete_disk(driver_name, pool, row.path)
    except BaseException:
        run_in_transaction(engine, lambda conn: lifecycle.finish_delete(conn, row.id, failed=True))
        raise
    run_in_transaction(engine, lambda conn: lifecycle.finish_delete(conn, row.id))


def resize_volume(
    engine: Engine,
    caller: Caller,
    uuid: str,
    *,
    size: int | None = None,
    diskofferingid: str | None = None,
    shrinkok: bool = False,
) -> dict[str, Any]:
    """``resizeVolume``: the pool reservation follows the new size; a disk on a pool is resized with qemu-img."""
    plan = run_in_transaction(
        engine,
        lambda conn: lifecycle.begin_resize(
            conn, caller, uuid, size=size, diskofferingid=diskofferingid, shrinkok=shrinkok
        ),
    )
    if plan.on_pool:
        try:
            pool, driver_name, path = run_in_transaction(engine, lambda conn: _disk_of(conn, plan.volume_id))
            disks.resize_disk(driver_name, pool, path, plan.new_size, shrink=plan.new_size < plan.old_size)
        except BaseException:
            run_in_transaction(engine, lambda conn: lifecycle.finish_resize(conn, plan, failed=True))
            raise
        run_in_transaction(engine, lambda conn: lifecycle.finish_resize(conn, plan))
    return _response(engine, caller, plan.volume_id)


def _disk_of(conn: Connection, volume_id: int) -> tuple[dict[str, Any], str, str]:
    row = conn.execute(select(volume.c.pool_id, volume.c.path).where(volume.c.id == volume_id)).one()
    pool = attachment.pool_row(conn, row.pool_id)
    return pool, attachment.pool_driver_for(conn, pool), str(row.path)
