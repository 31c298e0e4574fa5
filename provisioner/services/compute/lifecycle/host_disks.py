"""A starting VM's volumes as its host reaches them: files, or network disks QEMU opens in user space.

The rule, per volume (CloudStack's KVM layout, plus user space where the host has no kernel mount):

* an NFS pool is a directory of files at ``/mnt/<pool uuid>`` (or at the pool's ``host_mount_point``
  detail: where the kvm_host role mounted a pool it knew only by name) on a host that mounts it there (the
  host driver's :meth:`~provisioner.compute.base.HypervisorDriver.mounts`; for libvirt, its
  ``nfs_access`` setting, by default whether that directory is a mount). The compute driver makes the
  root disk there, a qcow2 overlay on the template's base image ``/mnt/<pool uuid>/tmpl-<id>.qcow2``,
  and deletes it with the VM;
* a host without that mount reaches the pool in user space: the root disk is made here, through the
  storage driver, as a qcow2 overlay on the export whose backing is the base image's ``nfs://`` URL
  (``qemu-img create -b nfs://… nfs://…``), and the VM gets ``nfs://`` network disks. Such disks
  belong to the pool: the expunge deletes the root disk before it releases the base image;
* a new data disk of an NFS pool (one the deployment asked for) is made empty on the export through
  the storage driver either way, and named by its name on the pool, as an attached volume is;
* an iSCSI volume is its LUN, the same ``iscsi://`` network disk a hot attach gives. A data volume of the
  deployment (or one still Allocated at a cold start) gets its LUN here as ``attachVolume`` gives one: the
  smallest LUN that holds it and that no live volume uses, chosen and recorded on the volume row in one
  transaction that holds the pool row (:func:`claim_lun`), so concurrent starts never pick the same LUN; the
  caller drops the claim when the start fails (:func:`drop_luns`: a LUN is only given, never made or deleted);
* local, shared-mount-point and simulated pools are files under the pool's directory, as before.

A volume's ``path`` is its name on the pool, or (disks the compute driver made in a directory of
the host) that file's absolute path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from provisioner.compute.types import VolumeSpec
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import storage_pool, volume
from provisioner.exceptions import DriverError, VolumeNotFoundError
from provisioner.services.compute.states import VolumeState
from provisioner.services.templates.stores import build_driver, pool_driver_name
from provisioner.services.volumes import disks
from provisioner.services.volumes.attachment import paths_on_pool
from provisioner.services.volumes.disks import Disk
from provisioner.storage.base import StorageDriver, base_image_name
from provisioner.storage.drivers.nfs import NfsStorageDriver

log = logging.getLogger(__name__)

#: Where a volume without a pool would go (never reached: a started VM's volumes are all placed).
UNPLACED_DIRECTORY = "/var/lib/provisioner"
#: Pool types whose ``path`` is a directory on the host itself; others are mounted at ``/mnt/<uuid>``.
_LOCAL_PATH_POOLS = frozenset({"Filesystem", "SharedMountPoint", "LVM"})


@dataclass(frozen=True, slots=True)
class PlacedVolume:
    """A ROOT or DATADISK volume of a starting VM, read in the transaction that moved it to Starting.

    Attributes:
        id: the volume's internal id.
        uuid: its uuid (the disk serial, and its name on a pool until it has a path).
        device_id: the guest device id (0: the root disk).
        size: virtual size in bytes.
        path: its name on the pool or an absolute path on the host; None until its disk exists.
        pool: its ``storage_pool`` row (None while unplaced).
        driver: the storage registry name serving that pool.
    """

    id: int
    uuid: str
    device_id: int
    size: int | None
    path: str | None
    pool: dict[str, Any] | None
    driver: str | None


@dataclass(frozen=True, slots=True)
class HostDisks:
    """The disks of a VM on one host.

    Attributes:
        disks: the compute driver's disk specs.
        paths: volume id -> the ``path`` to record once the VM runs.
        created: disks made on their pools for this start (removed again if it fails).
    """

    disks: tuple[VolumeSpec, ...]
    paths: dict[int, str]
    created: tuple[Disk, ...] = ()


def pool_directory(pool: Any) -> str:
    """Where a pool's files are on a host: its own path for local directories, ``/mnt/<uuid>`` for mounts."""
    if pool["pool_type"] in _LOCAL_PATH_POOLS and pool["path"]:
        return str(pool["path"]).rstrip("/")
    return disks.mount_directory(pool)


#: Built once: every start reads it.
_VM_DISKS = (
    select(volume.c.id, volume.c.uuid, volume.c.device_id, volume.c.size, volume.c.path, volume.c.pool_id)
    .where(
        volume.c.vm_id == bindparam("vm"),
        volume.c.removed.is_(None),
        volume.c.volume_type.in_(("ROOT", "DATADISK")),
    )
    .order_by(volume.c.device_id)
)


def read_volumes(conn: Connection, vm_id: int) -> tuple[PlacedVolume, ...]:
    """The VM's ROOT and DATADISK volumes with their pools, by device id."""
    rows = conn.execute(_VM_DISKS, {"vm": vm_id}).all()
    pool_ids = {r.pool_id for r in rows if r.pool_id is not None}
    pools = {
        p["id"]: {str(k): v for k, v in p.items()}
        for p in conn.execute(select(storage_pool).where(storage_pool.c.id.in_(pool_ids))).mappings()
    }
    drivers = {pool_id: pool_driver_name(conn, pool) for pool_id, pool in pools.items()}
    return tuple(
        PlacedVolume(
            r.id,
            r.uuid,
            r.device_id or 0,
            r.size,
            r.path,
            pools.get(r.pool_id),
            drivers.get(r.pool_id),
        )
        for r in rows
    )


def _check_backing_reachable(pool: StorageDriver, item: PlacedVolume) -> None:
    """Refuse a user-space root overlay whose backing would be named relatively: QEMU resolves a relative backing
    name of an ``nfs://`` image to a wrong export path (the mount is refused), so it must be the base's URL."""
    if isinstance(pool, NfsStorageDriver) and pool.mounted:
        assert item.pool is not None
        raise DriverError(
            f"root disk {item.uuid} on NFS pool {item.pool['name']}: the management server reaches the pool through "
            f"its mount_point, so the overlay would name its base image relatively, which a host without the mount "
            f"at {disks.mount_directory(item.pool)} cannot open over nfs://; mount the pool there on the host "
            "(nfs_access=mount) or drop the pool's mount_point detail"
        )


def _on_pool(item: PlacedVolume, template_key: str | None, *, mounted: bool) -> tuple[VolumeSpec, str, Disk | None]:
    """An NFS volume the storage driver makes when it is new (a user-space root overlay, or an empty data disk),
    as the host reaches it: a file of the mount, or an ``nfs://`` network disk."""
    assert item.pool is not None and item.driver is not None
    name = item.path or disks.disk_name(item.uuid)
    made = None
    if item.path is None:
        with build_driver(item.driver, str(item.pool["url"]), item.pool.get("details")) as pool:
            try:
                pool.get_volume(name)
            except VolumeNotFoundError:  # else made by an earlier try of this start: use it
                if item.device_id == 0 and template_key is not None:
                    _check_backing_reachable(pool, item)
                    pool.create_overlay(template_key, name, item.size)
                else:
                    pool.create_volume(name, int(item.size or 0))
                made = Disk(item.driver, item.pool, name)
    spec = disks.host_volume_spec(item.driver, item.pool, name, item.device_id, item.uuid, mounts=lambda _: mounted)
    return spec, name, made


def _as_file(item: PlacedVolume, template_key: str | None, acquired: str | None) -> tuple[VolumeSpec, str]:
    """A file on the host; a new root disk on a template is an overlay the compute driver makes."""
    directory = pool_directory(item.pool) if item.pool is not None else UNPLACED_DIRECTORY
    absolute = item.path is not None and item.path.startswith("/")
    path = str(item.path) if absolute else f"{directory}/{item.path or item.uuid}"
    backing = None
    if item.device_id == 0 and item.path is None and template_key is not None:
        if item.driver == disks.NFS:
            backing = f"{directory}/{base_image_name(template_key)}"  # the host's view, not the server's URL
        elif acquired is not None and acquired.startswith("/"):
            backing = acquired
    spec = VolumeSpec(
        source=path, device_id=item.device_id, size_bytes=item.size, volume_uuid=item.uuid, backing=backing
    )
    return spec, path


def _no_claim(item: PlacedVolume) -> str:
    raise DriverError(
        f"volume {item.uuid} on iSCSI pool {item.pool and item.pool['name']} has no LUN yet; "
        "attach it with attachVolume, which assigns a free LUN"
    )


def place(
    volumes: tuple[PlacedVolume, ...],
    *,
    template_key: str | None,
    acquired: str | None,
    mounts: Callable[[str], bool],
    claim: Callable[[PlacedVolume], str] = _no_claim,
) -> HostDisks:
    """The VM's disks on the host whose driver answers ``mounts``; makes the user-space disks that are new.

    Runs outside any transaction (it may create disks on the storage).

    Args:
        volumes: from :func:`read_volumes`.
        template_key: the base image key of the template a new root disk is made on, or None.
        acquired: where the base image is, as the storage driver named it (``base_images.acquire``).
        mounts: the host driver's ``mounts``.
        claim: gives an iSCSI volume without a LUN one and records it (:func:`claim_lun`).

    Raises:
        DriverError: the storage refused, or an iSCSI pool has no free LUN large enough.
    """
    specs: list[VolumeSpec] = []
    paths: dict[int, str] = {}
    created: list[Disk] = []
    try:
        for item in volumes:
            if item.driver == disks.ISCSI and item.pool is not None:
                path = item.path or ""
                if item.path is None:
                    if item.device_id == 0 and template_key is not None:
                        raise DriverError(
                            f"root volume {item.uuid} on iSCSI pool {item.pool['name']}: a template's root disk "
                            "cannot be made on a LUN here; give the service offering's root disk an NFS or "
                            "local pool (storage tags)"
                        )
                    path = claim(item)
                spec = disks.volume_spec(item.driver, item.pool, path, item.device_id, item.uuid)
            elif item.driver == disks.NFS and item.pool is not None and not (item.path or "").startswith("/"):
                mounted = mounts(disks.mount_directory(item.pool))
                if mounted and item.device_id == 0 and item.path is None and template_key is not None:
                    spec, path = _as_file(item, template_key, acquired)  # the compute driver makes the overlay
                else:
                    spec, path, made = _on_pool(item, template_key, mounted=mounted)
                    created.extend([made] if made is not None else [])
            else:
                spec, path = _as_file(item, template_key, acquired)
            specs.append(spec)
            paths[item.id] = path
    except BaseException:
        remove(tuple(created))
        raise
    return HostDisks(tuple(specs), paths, tuple(created))


def claim_lun(engine: Engine, item: PlacedVolume) -> str:
    """Give an iSCSI volume without a LUN the one ``attachVolume`` would pick, recorded as its path (it stays
    Creating) before the VM starts on it; returns the LUN's name.

    The target's LUNs are listed outside any transaction; the choice and the record are one transaction holding
    the pool row, so a concurrent start waits and sees the LUN taken (a concurrent ``attachVolume`` loses at its
    own check when it records).

    Raises:
        DriverError: the target did not answer, or no free LUN holds the volume.
    """
    assert item.pool is not None and item.driver is not None
    pool, pool_id = item.pool, int(item.pool["id"])
    luns = disks.list_luns(item.driver, pool)

    def choose(conn: Connection) -> str:
        conn.execute(select(storage_pool.c.id).where(storage_pool.c.id == pool_id).with_for_update())
        current = conn.execute(select(volume.c.path).where(volume.c.id == item.id)).scalar()
        if current:  # an earlier try of this start claimed it
            return str(current)
        lun = disks.choose_lun(pool, luns, paths_on_pool(conn, pool_id), int(item.size or 0))
        conn.execute(
            update(volume).where(volume.c.id == item.id).values(path=lun, update_count=volume.c.update_count + 1)
        )
        return lun

    return run_in_transaction(engine, choose)


def drop_luns(conn: Connection, claimed: dict[int, str]) -> None:
    """Undo :func:`claim_lun` after a failed start: the volumes have no disk again (nothing was made on a LUN
    that the volume must keep), so the failed start gives them back to Allocated."""
    for volume_id, lun in claimed.items():
        conn.execute(
            update(volume)
            .where(volume.c.id == volume_id, volume.c.path == lun, volume.c.state == VolumeState.CREATING.value)
            .values(path=None, update_count=volume.c.update_count + 1)
        )


def remove(created: tuple[Disk, ...]) -> None:
    """Best effort: delete disks :func:`place` made for a start that then failed."""
    for disk in created:
        try:
            disks.delete_disk(disk.driver, disk.pool, disk.name)
        except Exception as exc:  # the start's own error is what the caller reports
            log.warning(
                "could not delete disk %s from pool %s after a failed start: %s", disk.name, disk.pool["name"], exc
            )


def pool_owned_root(conn: Connection, vm_id: int) -> Disk | None:
    """The VM's root disk when its pool owns it (made in user space), for the expunge to delete; else None.

    Root disks the compute driver made (absolute paths on the host) go with the VM on the host.
    """
    row = conn.execute(
        select(volume.c.path, volume.c.pool_id).where(
            volume.c.vm_id == vm_id, volume.c.volume_type == "ROOT", volume.c.removed.is_(None)
        )
    ).first()
    if row is None or row.pool_id is None or not row.path or row.path.startswith("/"):
        return None
    pool = dict(conn.execute(select(storage_pool).where(storage_pool.c.id == row.pool_id)).mappings().one())
    driver = pool_driver_name(conn, pool)
    if driver != disks.NFS:
        return None
    return Disk(driver, pool, str(row.path))
