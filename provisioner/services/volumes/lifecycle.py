"""Volume rows through their states: create (Allocated), resize, delete; each step one short transaction.

Every change is ``UPDATE volume … WHERE id = :id AND update_count = :seen`` so two concurrent operations
on one volume cannot both win. A volume holds pool capacity exactly while it has a ``pool_id`` and is
not expunged (``services/compute/capacity.py``): placing it reserves, resizing adjusts, expunging releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from provisioner.db.schema import disk_offering, new_uuid, snapshot, storage_pool, utcnow, volume, zone
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.compute.allocator import release_pool
from provisioner.services.compute.allocator.model import GIB
from provisioner.services.compute.states import VolumeState
from provisioner.services.configuration import config_value
from provisioner.services.identity.resource_limits import check_resource_limit
from provisioner.services.principal import Caller
from provisioner.services.volumes.ownership import check_owner_access, move_state, resolve_owner
from provisioner.services.volumes.placement import grow_reservation
from provisioner.services.volumes.records import volume_by_uuid

#: CloudStack's ``custom.diskoffering.size.min`` / ``.max`` defaults, in GiB.
CUSTOM_SIZE_MIN, CUSTOM_SIZE_MAX = 1, 1024
#: States ``deleteVolume`` accepts.
DELETABLE = frozenset({VolumeState.ALLOCATED.value, VolumeState.READY.value, VolumeState.DESTROY.value})


@dataclass(frozen=True, slots=True)
class NewVolume:
    """What :func:`create_volume_row` inserted."""

    id: int
    uuid: str
    snapshot_id: int | None


def set_state(conn: Connection, row: Any, state: VolumeState, **values: Any) -> None:
    """Move a volume to ``state`` if nobody changed it since ``row`` was read.

    Raises:
        InternalError: a concurrent operation changed the volume (530).
    """
    move_state(conn, volume, row, state.value, f"Volume {row.name}", **values)


def checked_volume(conn: Connection, caller: Caller, uuid: str, param: str = "id") -> Any:
    """The live volume ``uuid`` if the caller may act on it.

    Raises:
        ParamError: no such volume (431). PermissionDeniedError: another account's (531).
    """
    row = volume_by_uuid(conn, uuid, param)
    check_owner_access(conn, caller, row.account_id, row.domain_id, f"volume {row.name}")
    return row


def _size_limits(conn: Connection) -> tuple[int, int]:
    low = config_value(conn, "custom.diskoffering.size.min")
    high = config_value(conn, "custom.diskoffering.size.max")
    return int(low or CUSTOM_SIZE_MIN), int(high or CUSTOM_SIZE_MAX)


def custom_size(conn: Connection, size_gib: int) -> int:
    """A custom size in GiB, checked against the configured range, in bytes.

    Raises:
        ParamError: out of range (431), in CloudStack's words.
    """
    low, high = _size_limits(conn)
    if not low <= size_gib <= high:
        raise ParamError(f"Volume size: {size_gib}GB is out of allowed range. Max: {high} Min:{low}")
    return size_gib * GIB


def _offering(conn: Connection, uuid: str) -> Any:
    row = conn.execute(
        select(disk_offering).where(disk_offering.c.uuid == uuid.lower(), disk_offering.c.removed.is_(None))
    ).first()
    if row is None:
        raise ParamError(f"Unable to find disk offering by id {uuid}")
    return row


def offering_size(conn: Connection, offering: Any, size_gib: int | None) -> int:
    """The bytes a volume of ``offering`` gets: its fixed size, or ``size`` GiB when it is customised.

    Raises:
        ParamError: a size for a fixed offering, or none for a customised one (431).
    """
    if offering.is_customized or not offering.disk_size:
        if size_gib is None:
            raise ParamError(f"Disk offering {offering.name} is customised: pass size (GB)")
        return custom_size(conn, size_gib)
    if size_gib is not None and size_gib * GIB != offering.disk_size:
        raise ParamError(f"Disk offering {offering.name} has a fixed size and does not allow custom size")
    return int(offering.disk_size)


def _zone(conn: Connection, caller: Caller, uuid: str) -> Any:
    row = conn.execute(select(zone).where(zone.c.uuid == uuid.lower(), zone.c.removed.is_(None))).first()
    if row is None:
        raise ParamError(f"Unable to find zone by id {uuid}")
    if row.allocation_state != "Enabled" and not caller.is_root_admin:
        raise PermissionDeniedError(f"Cannot perform this operation, Zone is currently disabled: {uuid}")
    return row


def create_volume_row(
    conn: Connection,
    caller: Caller,
    *,
    name: str | None,
    zoneid: str | None,
    diskofferingid: str | None,
    size: int | None,
    snapshotid: str | None,
    account_name: str | None,
    domainid: str | None,
) -> NewVolume:
    """The create step of ``createVolume``: an Allocated DATADISK row (not yet on any pool).

    From a snapshot, the size, offering and zone are the snapshot's; the job then puts it on a pool.

    Raises:
        ParamError: a missing or contradictory parameter, or an unknown offering, zone or snapshot (431).
        PermissionDeniedError: the caller may not create for that account, or the zone is disabled (531).
    """
    owner = resolve_owner(conn, caller, account_name, domainid)
    snapshot_id = None
    if snapshotid:
        snap = conn.execute(
            select(snapshot).where(snapshot.c.uuid == snapshotid.lower(), snapshot.c.removed.is_(None))
        ).first()
        if snap is None:
            raise ParamError(f"Unable to find snapshot by id {snapshotid}")
        check_owner_access(conn, caller, snap.account_id, snap.domain_id, f"snapshot {snap.name}")
        if snap.state != "BackedUp":
            raise ParamError(
                f"Snapshot id={snapshotid} is not in BackedUp state yet and can't be used for volume creation"
            )
        source = conn.execute(select(volume.c.disk_offering_id).where(volume.c.id == snap.volume_id)).one()
        zone_id, size_bytes, offering_id, snapshot_id = snap.zone_id, int(snap.size), source.disk_offering_id, snap.id
        if size is not None:
            size_bytes = max(size_bytes, custom_size(conn, size))
    else:
        if not zoneid:
            raise ParamError("Unable to execute API command createvolume due to missing parameter zoneid")
        if not diskofferingid:
            raise ParamError("Either disk offering id or snapshot id must be passed while creating volume")
        offering = _offering(conn, diskofferingid)
        zone_id, size_bytes, offering_id = (
            _zone(conn, caller, zoneid).id,
            offering_size(conn, offering, size),
            offering.id,
        )
    # As CloudStack's VolumeApiServiceImpl: the account's (and its domains') volume and primary storage limits (535).
    check_resource_limit(conn, owner.account_id, "volume")
    check_resource_limit(conn, owner.account_id, "primary_storage", size_bytes)
    uuid = new_uuid()
    inserted = conn.execute(
        insert(volume).values(
            uuid=uuid,
            name=name or uuid,
            volume_type="DATADISK",
            state=VolumeState.ALLOCATED.value,
            size=size_bytes,
            disk_offering_id=offering_id,
            account_id=owner.account_id,
            domain_id=owner.domain_id,
            zone_id=zone_id,
        )
    )
    return NewVolume(int(inserted.inserted_primary_key[0]), uuid, snapshot_id)  # type: ignore[index]


def place_row(conn: Connection, volume_id: int, pool_id: int, path: str | None) -> None:
    """Record where a volume now lives (its pool was reserved by the caller) and make it Ready."""
    row = conn.execute(select(volume).where(volume.c.id == volume_id)).one()
    set_state(conn, row, VolumeState.READY, pool_id=pool_id, path=path)


def expunge_row(conn: Connection, row: Any) -> None:
    """Mark a volume Expunged and removed, releasing its pool reservation."""
    if row.pool_id is not None:
        release_pool(conn, row.pool_id, row.size)
    set_state(conn, row, VolumeState.EXPUNGED, removed=utcnow(), last_pool_id=row.pool_id)


def begin_delete(conn: Connection, caller: Caller, uuid: str) -> tuple[Any, Any | None]:
    """``deleteVolume``'s first step: checks, then Expunging (a volume on a pool) or gone (one on none).

    Returns:
        The volume row as it was, and its pool row when its disk must still be deleted (else None).

    Raises:
        ParamError: attached, a ROOT volume, or in a state that cannot be deleted (431).
    """
    row = checked_volume(conn, caller, uuid)
    if row.vm_id is not None:
        raise ParamError("Please specify a volume that is not attached to any VM.")
    if row.state not in DELETABLE:
        raise ParamError(
            f"Volume {row.name} is in state {row.state}: only Allocated, Ready or Destroy volumes can be deleted"
        )
    if row.pool_id is None or not row.path:
        expunge_row(conn, row)
        return row, None
    pool_row = conn.execute(select(storage_pool).where(storage_pool.c.id == row.pool_id)).mappings().one()
    set_state(conn, row, VolumeState.EXPUNGING)
    return row, pool_row


def finish_delete(conn: Connection, volume_id: int, *, failed: bool = False) -> None:
    """After the disk was deleted: Expunged; after a failure: back to Destroy (the row stays visible)."""
    row = conn.execute(select(volume).where(volume.c.id == volume_id)).one()
    if failed:
        set_state(conn, row, VolumeState.DESTROY)
    else:
        expunge_row(conn, row)


@dataclass(frozen=True, slots=True)
class ResizePlan:
    """What a resize changes: sizes, offering, and whether a disk on a pool must grow or shrink."""

    volume_id: int
    old_size: int
    new_size: int
    offering_id: int | None
    old_offering_id: int | None
    on_pool: bool


def begin_resize(
    conn: Connection,
    caller: Caller,
    uuid: str,
    *,
    size: int | None,
    diskofferingid: str | None,
    shrinkok: bool,
) -> ResizePlan:
    """``resizeVolume``'s first step: checks, the pool reservation adjusted, and Resizing for a placed volume.

    Raises:
        ParamError: no new size, a shrink without ``shrinkok``, or a volume not Ready/Allocated (431).
        InsufficientCapacityError: the pool cannot take the extra bytes (533).
    """
    row = checked_volume(conn, caller, uuid)
    if row.state not in (VolumeState.READY.value, VolumeState.ALLOCATED.value):
        raise ParamError(
            f"Volume should be in ready or allocated state before attempting a resize. Volume {row.uuid} is in state "
            f"{row.state}."
        )
    offering_id = row.disk_offering_id
    if diskofferingid:
        offering = _offering(conn, diskofferingid)
        offering_id = offering.id
        new_size = offering_size(conn, offering, size)
    elif size is not None:
        current = (
            conn.execute(select(disk_offering).where(disk_offering.c.id == row.disk_offering_id)).first()
            if row.disk_offering_id is not None
            else None
        )
        if row.volume_type != "ROOT" and current is not None and current.disk_size and not current.is_customized:
            raise ParamError(
                f"To resize a volume of the fixed-size disk offering {current.name}, pass a customised "
                "diskofferingid or use a customised offering"
            )
        new_size = custom_size(conn, size)
    else:
        raise ParamError("Pass size (GB) or diskofferingid to resize volume " + row.name)
    if new_size < row.size and not shrinkok:
        raise ParamError(
            f"Going from existing size of {row.size} to size of {new_size} would shrink the volume. "
            "Need to sign off by supplying the shrinkok parameter with value of true."
        )
    on_pool = row.pool_id is not None and bool(row.path)
    if row.pool_id is not None:
        pool = conn.execute(select(storage_pool.c.cluster_id).where(storage_pool.c.id == row.pool_id)).one()
        grow_reservation(
            conn,
            row.pool_id,
            new_size - row.size,
            zone_id=row.zone_id,
            account_id=row.account_id,
            cluster_id=pool.cluster_id,
        )
    if on_pool:
        set_state(conn, row, VolumeState.RESIZING, size=new_size, disk_offering_id=offering_id)
    else:
        set_state(conn, row, VolumeState(row.state), size=new_size, disk_offering_id=offering_id)
    return ResizePlan(row.id, int(row.size), new_size, offering_id, row.disk_offering_id, on_pool)


def finish_resize(conn: Connection, plan: ResizePlan, *, failed: bool = False) -> None:
    """Resizing -> Ready; a failure puts the old size (and its reservation) back."""
    row = conn.execute(select(volume).where(volume.c.id == plan.volume_id)).one()
    if not failed:
        set_state(conn, row, VolumeState.READY)
        return
    if row.pool_id is not None and plan.new_size != plan.old_size:
        release_pool(conn, row.pool_id, plan.new_size - plan.old_size)
    set_state(conn, row, VolumeState.READY, size=plan.old_size, disk_offering_id=plan.old_offering_id)
