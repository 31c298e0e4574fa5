"""``migrateVolume``: move a volume's disk to another primary pool (cold: detached, or its VM stopped).

Ready → Migrating → Ready, as CloudStack's volume state machine. The target pool's bytes are reserved
with the allocator's conditional ``UPDATE`` before anything is copied, the disk is copied with
``qemu-img convert`` (simulated pools only record it), and only then does the volume move and the
source pool get its bytes back; a failure deletes the copy and returns the reservation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import disk_offering, host, storage_pool, storage_pool_tag, vm_instance, volume
from provisioner.exceptions import InsufficientCapacityError, ParamError
from provisioner.services.compute.allocator import release_pool, reserve_pool
from provisioner.services.compute.allocator.model import POOL_UP
from provisioner.services.compute.states import VolumeState
from provisioner.services.compute.vms import split_tags
from provisioner.services.principal import Caller
from provisioner.services.volumes import disks
from provisioner.services.volumes.attachment import pool_driver_for, pool_row
from provisioner.services.volumes.lifecycle import checked_volume, set_state
from provisioner.services.volumes.placement import pool_candidate
from provisioner.services.volumes.records import volume_response


def _target(conn: Connection, row: Any, storage_uuid: str) -> Any:
    target = conn.execute(
        select(storage_pool).where(storage_pool.c.uuid == storage_uuid.lower(), storage_pool.c.removed.is_(None))
    ).first()
    if target is None:
        raise ParamError(f"Unable to find storage pool by id {storage_uuid}")
    if target.id == row.pool_id:
        raise ParamError(f"Volume {row.name} is already on storage pool {target.name}")
    if target.zone_id != row.zone_id:
        raise ParamError(f"Storage pool {target.name} is in another zone than volume {row.name}")
    if target.state != POOL_UP:
        raise ParamError(f"Storage pool {target.name} is {target.state}; volumes can only move to Up pools")
    if row.disk_offering_id is not None:
        wanted = split_tags(
            conn.execute(select(disk_offering.c.tags).where(disk_offering.c.id == row.disk_offering_id)).scalar()
        )
        has = set(conn.execute(select(storage_pool_tag.c.tag).where(storage_pool_tag.c.pool_id == target.id)).scalars())
        if not wanted <= has:
            raise ParamError(f"Storage pool {target.name} does not have the volume's storage tags {sorted(wanted)}")
    return target


def _check_vm(conn: Connection, row: Any, target: Any, livemigrate: bool) -> None:
    if row.vm_id is None:
        return
    vm = conn.execute(select(vm_instance).where(vm_instance.c.id == row.vm_id)).one()
    if vm.state != VMState.STOPPED.value:
        if livemigrate:
            raise ParamError("Live migration of volumes is not supported here; stop the VM and migrate again")
        raise ParamError("The VM must be stopped or the disk detached in order to migrate volumes.")
    if target.scope == "CLUSTER" and vm.last_host_id is not None:
        cluster_id = conn.execute(select(host.c.cluster_id).where(host.c.id == vm.last_host_id)).scalar()
        if cluster_id != target.cluster_id:
            raise ParamError(f"Storage pool {target.name} is not reachable from the cluster of VM {vm.name}")


def begin_migrate(
    conn: Connection, caller: Caller, uuid: str, storage_uuid: str, livemigrate: bool
) -> tuple[int, disks.Disk, disks.Disk, int]:
    """Check, reserve the target pool, and mark the volume Migrating.

    Returns:
        (volume id, source disk, target disk, size).

    Raises:
        ParamError: CloudStack's rules (Ready, detached or stopped VM, another Up pool in the zone, tags) (431).
        InsufficientCapacityError: the target pool cannot hold it (533).
    """
    row = checked_volume(conn, caller, uuid, "volumeid")
    if row.state != VolumeState.READY.value or row.pool_id is None or not row.path:
        raise ParamError(f"Volume {row.name} must be Ready on a storage pool to be migrated, not {row.state}")
    target = _target(conn, row, storage_uuid)
    _check_vm(conn, row, target, livemigrate)
    candidate = pool_candidate(
        conn, target.id, zone_id=row.zone_id, account_id=row.account_id, cluster_id=target.cluster_id
    )
    if not reserve_pool(conn, candidate, row.size):
        raise InsufficientCapacityError(f"Storage pool {target.name} cannot hold volume {row.name} ({row.size} bytes)")
    set_state(conn, row, VolumeState.MIGRATING)
    source_pool, target_pool = pool_row(conn, row.pool_id), pool_row(conn, target.id)
    source = disks.Disk(pool_driver_for(conn, source_pool), source_pool, str(row.path))
    moved = disks.Disk(pool_driver_for(conn, target_pool), target_pool, disks.disk_name(row.uuid))
    if moved.driver == disks.ISCSI:
        raise ParamError(f"Volumes cannot be migrated to the iSCSI pool {target.name}: its LUNs are not copied into")
    return int(row.id), source, moved, int(row.size)


def _end(conn: Connection, volume_id: int, target: disks.Disk, path: str | None) -> None:
    row = conn.execute(select(volume).where(volume.c.id == volume_id)).one()
    if path is None:  # failed: the target gives its bytes back, the volume stays where it was
        release_pool(conn, int(target.pool["id"]), row.size)
        set_state(conn, row, VolumeState.READY)
        return
    release_pool(conn, row.pool_id, row.size)
    set_state(conn, row, VolumeState.READY, pool_id=int(target.pool["id"]), path=path, last_pool_id=row.pool_id)


def migrate_volume(
    engine: Engine, caller: Caller, uuid: str, storage_uuid: str, *, livemigrate: bool = False
) -> dict[str, Any]:
    """``migrateVolume``: copy the disk to ``storage_uuid``, move the volume there, delete the old disk."""
    volume_id, source, target, size = run_in_transaction(
        engine, lambda conn: begin_migrate(conn, caller, uuid, storage_uuid, livemigrate)
    )
    path: str | None = None
    try:
        path = disks.create_disk(target.driver, target.pool, target.name, size)
        copied = disks.Disk(target.driver, target.pool, path)
        disks.copy_disk(source, copied)
        run_in_transaction(engine, lambda conn: _end(conn, volume_id, target, path))
    except BaseException:
        if path is not None:
            disks.delete_disk(target.driver, target.pool, path)
        run_in_transaction(engine, lambda conn: _end(conn, volume_id, target, None))
        raise
    disks.delete_disk(source.driver, source.pool, source.name)
    return run_in_transaction(engine, lambda conn: volume_response(conn, caller, volume_id))
