"""``attachVolume`` / ``detachVolume`` decisions, each in one transaction (the driver work comes after).

CloudStack's rules (``VolumeApiServiceImpl.attachVolumeToVM``/``detachVolumeFromVM``): only DATADISK
volumes, Allocated or Ready, not attached yet; a Running or Stopped VM of the same account and zone;
at most the hypervisor's ``max_data_volumes_limit`` data disks; device ids 1, 2, 4, … (3 is the CD-ROM).
A volume never created is placed on the first attach to a VM whose disks exist: the storage allocator
picks a pool the VM's host (or cluster) reaches and reserves the volume's size there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from provisioner.compute.types import VMState
from provisioner.db.schema import (
    disk_offering,
    host,
    hypervisor_capability,
    storage_pool,
    utcnow,
    vm_instance,
    vm_snapshot,
    volume,
)
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.compute.allocator import VolumeRequest, release_pool
from provisioner.services.compute.states import VolumeState
from provisioner.services.compute.vms import split_tags
from provisioner.services.principal import Caller
from provisioner.services.volumes.lifecycle import checked_volume, set_state
from provisioner.services.volumes.ownership import check_owner_access, live_row
from provisioner.services.volumes.placement import reserve_volume_pool

#: The device id KVM and XenServer keep for the CD-ROM drive.
CDROM_DEVICE_ID = 3
#: ``max_data_volumes_limit`` when the hypervisor has no capability row.
DEFAULT_MAX_DATA_VOLUMES = 6
ATTACHABLE_VM_STATES = frozenset({VMState.RUNNING.value, VMState.STOPPED.value})


@dataclass(frozen=True, slots=True)
class DiskWork:
    """What must happen outside the transaction: a disk to create, a hypervisor to tell.

    Attributes:
        volume_id: the volume's internal id.
        volume_uuid: its public id.
        device_id: its device id on the VM.
        pool: the pool row (``url``, ``details``, ``uuid``) when the volume has one.
        pool_driver: the storage registry name serving ``pool``.
        create_size: bytes of a disk to create first (None: the disk exists or is not made yet).
        path: the disk's name on the pool, when it exists.
        host: the VM's host row when the VM runs (the hypervisor must be told), else None.
        instance_name: the VM's name on the hypervisor.
        stopped_on_host: ``host`` is where a stopped VM was last defined (a detach edits that definition).
    """

    volume_id: int
    volume_uuid: str
    device_id: int
    pool: dict[str, Any] | None
    pool_driver: str | None
    create_size: int | None
    path: str | None
    host: dict[str, Any] | None
    instance_name: str
    stopped_on_host: bool = False


def vm_by_uuid(conn: Connection, uuid: str, param: str = "virtualmachineid") -> Any:
    """The live VM ``uuid``.

    Raises:
        ParamError: no such VM, in the verbatim unknown-id text (431).
    """
    return live_row(conn, vm_instance, uuid, param, vm_instance.c.removed.is_(None))


def _hypervisor(conn: Connection, vm: Any) -> str | None:
    if vm.hypervisor_type:
        return str(vm.hypervisor_type)
    host_id = vm.host_id or vm.last_host_id
    if host_id is None:
        return None
    return conn.execute(select(host.c.hypervisor_type).where(host.c.id == host_id)).scalar()


def max_data_volumes(conn: Connection, hypervisor: str | None) -> int:
    """The hypervisor's ``max_data_volumes_limit`` (its ``default`` version row)."""
    if hypervisor is None:
        return DEFAULT_MAX_DATA_VOLUMES
    limit = conn.execute(
        select(hypervisor_capability.c.max_data_volumes_limit).where(
            func.lower(hypervisor_capability.c.hypervisor_type) == hypervisor.lower(),
            hypervisor_capability.c.hypervisor_version == "default",
        )
    ).scalar()
    return int(limit) if limit is not None else DEFAULT_MAX_DATA_VOLUMES


def _device_id(conn: Connection, vm: Any, requested: int | None, limit: int) -> int:
    used = {
        int(d)
        for d in conn.execute(
            select(volume.c.device_id).where(volume.c.vm_id == vm.id, volume.c.removed.is_(None))
        ).scalars()
        if d is not None
    }
    data_disks = len(used - {0})
    if data_disks >= limit:
        raise ParamError(
            f"The specified VM already has the maximum number of data disks ({limit}) attached. "
            "Please specify another VM."
        )
    highest = limit + 1 if limit + 1 > CDROM_DEVICE_ID else limit  # one more id: 3 is never a data disk
    if requested is not None:
        if requested < 1 or requested > highest or requested == CDROM_DEVICE_ID:
            raise ParamError(f"deviceId should be 1,2,4-{highest}")
        if requested in used:
            raise ParamError(f"deviceId {requested} is used by vm {vm.uuid}")
        return requested
    return next(i for i in range(1, highest + 1) if i != CDROM_DEVICE_ID and i not in used)


def _has_vm_snapshots(conn: Connection, vm_id: int) -> bool:
    query = select(func.count()).where(vm_snapshot.c.vm_id == vm_id, vm_snapshot.c.removed.is_(None))
    return bool(conn.execute(query).scalar_one())


def _host_row(conn: Connection, host_id: int | None) -> dict[str, Any] | None:
    if host_id is None:
        return None
    return dict(conn.execute(select(host).where(host.c.id == host_id)).mappings().one())


def pool_row(conn: Connection, pool_id: int) -> dict[str, Any]:
    return dict(conn.execute(select(storage_pool).where(storage_pool.c.id == pool_id)).mappings().one())


def pool_driver_for(conn: Connection, pool: dict[str, Any]) -> str:
    """The storage registry name serving a pool row."""
    from provisioner.services.templates.stores import pool_driver_name  # late: the template area owns it

    return pool_driver_name(conn, pool)


def volume_request(conn: Connection, row: Any) -> VolumeRequest:
    tags, storage_type = None, "shared"
    if row.disk_offering_id is not None:
        offering = conn.execute(
            select(disk_offering.c.tags, disk_offering.c.storage_type).where(disk_offering.c.id == row.disk_offering_id)
        ).one()
        tags, storage_type = offering.tags, offering.storage_type
    return VolumeRequest(row.name, int(row.size), split_tags(tags), storage_type == "local")


def _placement_scope(conn: Connection, vm: Any) -> tuple[int | None, int | None] | None:
    """(host id, cluster id) the new volume must be reachable from; None while the VM's disks do not exist."""
    if vm.state == VMState.RUNNING.value and vm.host_id is not None:
        return vm.host_id, None
    root = conn.execute(
        select(volume.c.pool_id, volume.c.state).where(
            volume.c.vm_id == vm.id, volume.c.volume_type == "ROOT", volume.c.removed.is_(None)
        )
    ).first()
    if root is None or root.pool_id is None or root.state == VolumeState.ALLOCATED.value:
        return None
    pool = conn.execute(
        select(storage_pool.c.scope, storage_pool.c.cluster_id, storage_pool.c.host_id).where(
            storage_pool.c.id == root.pool_id
        )
    ).one()
    if pool.scope == "HOST":
        return pool.host_id, None
    if pool.scope == "CLUSTER":
        return None, pool.cluster_id
    return vm.last_host_id, None


def _check_reachable(conn: Connection, row: Any, vm: Any) -> None:
    pool = conn.execute(select(storage_pool).where(storage_pool.c.id == row.pool_id)).one()
    host_id = vm.host_id or vm.last_host_id
    if host_id is None or pool.scope == "ZONE":
        return
    where = conn.execute(select(host.c.cluster_id).where(host.c.id == host_id)).scalar()
    if (pool.scope == "CLUSTER" and pool.cluster_id != where) or (pool.scope == "HOST" and pool.host_id != host_id):
        raise ParamError(
            f"Volume {row.name} is on storage pool {pool.name}, which the hosts of VM {vm.name} cannot reach; "
            "migrate the volume to the VM's cluster first"
        )


def begin_attach(conn: Connection, caller: Caller, uuid: str, vm_uuid: str, device_id: int | None) -> DiskWork:
    """Check an attach, choose the device id (and a pool for a volume never created), and link the volume.

    Raises:
        ParamError: any of CloudStack's attach rules is broken (431).
        PermissionDeniedError: the volume or VM is another account's (531).
        InsufficientCapacityError: no reachable pool can hold a new volume (533).
    """
    row = checked_volume(conn, caller, uuid)
    if row.volume_type != "DATADISK":
        raise ParamError("Please specify a volume with the valid type: DATADISK")
    if row.vm_id is not None:
        raise ParamError("Please specify a volume that is not attached to any VM.")
    if row.state not in (VolumeState.ALLOCATED.value, VolumeState.READY.value):
        raise ParamError("Volume state must be in Allocated, Ready or in Uploaded state")
    vm = vm_by_uuid(conn, vm_uuid)
    check_owner_access(conn, caller, vm.account_id, vm.domain_id, f"VM {vm.name}")
    if vm.state not in ATTACHABLE_VM_STATES:
        raise ParamError("Please specify a VM that is either running or stopped.")
    if vm.zone_id != row.zone_id:
        raise ParamError("Please specify a VM that is in the same zone as the volume.")
    if vm.account_id != row.account_id:
        raise ParamError(f"Volume {row.name} and VM {vm.name} belong to different accounts; both must be one account's")
    if _has_vm_snapshots(conn, vm.id):
        raise ParamError("Unable to attach volume, please specify a VM that does not have VM snapshots")
    chosen = _device_id(conn, vm, device_id, max_data_volumes(conn, _hypervisor(conn, vm)))
    pool_id, create_size, state = row.pool_id, None, VolumeState(row.state)
    if row.pool_id is None:
        scope = _placement_scope(conn, vm)
        if scope is not None:
            host_id, cluster_id = scope
            pool_id = reserve_volume_pool(
                conn,
                volume_request(conn, row),
                zone_id=row.zone_id,
                account_id=row.account_id,
                host_id=host_id,
                cluster_id=cluster_id,
            )
            create_size, state = int(row.size), VolumeState.CREATING
    else:
        _check_reachable(conn, row, vm)
    set_state(conn, row, state, pool_id=pool_id, vm_id=vm.id, device_id=chosen, attached=utcnow())
    pool = pool_row(conn, pool_id) if pool_id is not None else None
    running = vm.state == VMState.RUNNING.value
    return DiskWork(
        row.id,
        row.uuid,
        chosen,
        pool,
        pool_driver_for(conn, pool) if pool is not None else None,
        create_size,
        row.path,
        _host_row(conn, vm.host_id) if running else None,
        vm.instance_name,
    )


def paths_on_pool(conn: Connection, pool_id: int) -> frozenset[str]:
    """The disk names live volumes use on a pool (an iSCSI pool's LUNs in use)."""
    query = select(volume.c.path).where(
        volume.c.pool_id == pool_id, volume.c.removed.is_(None), volume.c.path.is_not(None)
    )
    return frozenset(str(path) for path in conn.execute(query).scalars())


def finish_attach(conn: Connection, work: DiskWork, path: str | None) -> None:
    """The disk exists (and the hypervisor has it): a created volume becomes Ready at ``path``.

    Raises:
        InternalError: a concurrent attach took the same iSCSI LUN first (530; try again).
    """
    row = conn.execute(select(volume).where(volume.c.id == work.volume_id)).one()
    if row.state == VolumeState.CREATING.value:
        if path is not None and path in paths_on_pool(conn, row.pool_id):
            raise InternalError(f"Disk {path} of pool {row.pool_id} was taken by another volume meanwhile; try again")
        set_state(conn, row, VolumeState.READY, path=path)


def undo_attach(conn: Connection, work: DiskWork, path: str | None) -> None:
    """The attach failed: unlink the volume; a volume whose disk was never made gives its pool back."""
    row = conn.execute(select(volume).where(volume.c.id == work.volume_id)).one()
    values: dict[str, Any] = {"vm_id": None, "device_id": None, "attached": None}
    if row.state == VolumeState.CREATING.value:
        if path is None:
            if row.pool_id is not None:
                release_pool(conn, row.pool_id, row.size)
            set_state(conn, row, VolumeState.ALLOCATED, pool_id=None, **values)
            return
        set_state(conn, row, VolumeState.READY, path=path, **values)
        return
    conn.execute(update(volume).where(volume.c.id == row.id).values(update_count=volume.c.update_count + 1, **values))


def begin_detach(
    conn: Connection, caller: Caller, uuid: str | None, vm_uuid: str | None, device_id: int | None
) -> DiskWork:
    """Check a detach (by volume id, or VM id and device id) and say what the hypervisor must be told.

    Raises:
        ParamError: not attached, a ROOT volume, a VM neither Running nor Stopped, or one with VM snapshots (431).
    """
    if uuid:
        row = checked_volume(conn, caller, uuid)
    elif vm_uuid and device_id is not None:
        vm = vm_by_uuid(conn, vm_uuid)
        found = conn.execute(
            select(volume.c.uuid).where(
                volume.c.vm_id == vm.id, volume.c.device_id == device_id, volume.c.removed.is_(None)
            )
        ).scalar()
        if found is None:
            raise ParamError(f"Unable to find volume with device id {device_id} on VM {vm.name}")
        row = checked_volume(conn, caller, found)
    else:
        raise ParamError("Please provide either a volume id, or a tuple(device id, instance id)")
    if row.vm_id is None:
        raise ParamError("Please specify a volume that is attached to a VM.")
    vm = conn.execute(select(vm_instance).where(vm_instance.c.id == row.vm_id)).one()
    if row.volume_type == "ROOT":
        raise ParamError(f"Root volume detach is not supported for hypervisor type {_hypervisor(conn, vm) or 'None'}")
    if vm.state not in ATTACHABLE_VM_STATES:
        raise ParamError("Please specify a VM that is either running or stopped.")
    if _has_vm_snapshots(conn, vm.id):
        raise ParamError("Unable to detach volume, please specify a VM that does not have VM snapshots")
    pool = pool_row(conn, row.pool_id) if row.pool_id is not None else None
    # A stopped VM's domain stays defined on its last host with the disk in it: it is edited too, or the
    # next start would still open the disk (and fail once the volume is deleted).
    host_id = vm.host_id if vm.state == VMState.RUNNING.value else vm.last_host_id
    return DiskWork(
        row.id,
        row.uuid,
        int(row.device_id),
        pool,
        pool_driver_for(conn, pool) if pool is not None else None,
        None,
        row.path,
        _host_row(conn, host_id) if host_id is not None and row.path else None,
        vm.instance_name,
        stopped_on_host=vm.state == VMState.STOPPED.value,
    )


def finish_detach(conn: Connection, work: DiskWork) -> None:
    """Unlink the volume from its VM (it keeps its pool and disk)."""
    row = conn.execute(select(volume).where(volume.c.id == work.volume_id)).one()
    set_state(conn, row, VolumeState(row.state), vm_id=None, device_id=None, attached=None)
