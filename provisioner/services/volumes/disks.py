"""A volume's disk on its primary pool: create, resize, delete and locate it through the storage drivers.

Called outside any database transaction (the storage may be slow). The pool row decides the driver
(``services/templates/stores.pool_driver_name``, resolved by the caller inside its transaction):
simulated pools record volumes in memory, NFS pools get thin qcow2 files through ``qemu-img`` on
``nfs://`` URLs in user space (or a kernel mount when the pool has one), local and shared-mount-point
pools files on the host path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.compute.types import DiskFormat, VolumeSpec
from provisioner.exceptions import DriverError, DriverValueError
from provisioner.storage import qemu
from provisioner.storage.base import StorageDriver
from provisioner.storage.types import ImageFormat, VolumeInfo

#: The storage registry name of simulated pools.
SIMULATOR = "simulator"
#: The storage registry name of iSCSI pools: their volumes are the target's LUNs (raw, made by the storage team).
ISCSI = "iscsi"
#: The storage registry name of NFS pools.
NFS = "nfs"


def _driver(driver_name: str, pool: Mapping[str, Any]) -> StorageDriver:
    from provisioner.services.templates.stores import build_driver  # late: keeps the volume area importable alone

    return build_driver(driver_name, str(pool["url"]), pool.get("details"))


def disk_name(volume_uuid: str) -> str:
    """A volume's file name on its pool: its uuid, as CloudStack names volume files."""
    return volume_uuid


def create_disk(driver_name: str, pool: Mapping[str, Any], name: str, size: int, taken: Collection[str] = ()) -> str:
    """Create an empty thin qcow2 disk of ``size`` bytes; returns the volume's ``path`` (its name on the pool).

    On an iSCSI pool the volume gets the first LUN that no volume in ``taken`` uses and that holds ``size``
    bytes (LUNs are provisioned on the target, not here); it is used raw.

    Raises:
        DriverError: the storage refused or did not answer, or no free LUN is large enough.
    """
    with _driver(driver_name, pool) as driver:
        if driver_name == ISCSI:
            return choose_lun(pool, driver.list_volumes(), taken, size)
        driver.create_volume(name, size, ImageFormat.QCOW2)
    return name


def list_luns(driver_name: str, pool: Mapping[str, Any]) -> list[VolumeInfo]:
    """The LUNs of an iSCSI pool's target, as volumes (for :func:`choose_lun`)."""
    with _driver(driver_name, pool) as driver:
        return driver.list_volumes()


def choose_lun(pool: Mapping[str, Any], luns: Collection[VolumeInfo], taken: Collection[str], size: int) -> str:
    """The LUN a new volume of ``size`` bytes gets: the smallest that no volume in ``taken`` uses and that holds it.

    Raises:
        DriverError: no free LUN is large enough.
    """
    free = [v for v in luns if v.name not in taken]
    for lun in sorted(free, key=lambda v: (v.virtual_size, v.name)):
        if lun.virtual_size >= size:
            return lun.name
    raise DriverError(
        f"iSCSI pool {pool.get('name')} has no free LUN of at least {size} bytes "
        f"({len(free)} free); provision one on the target"
    )


def delete_disk(driver_name: str, pool: Mapping[str, Any], name: str) -> None:
    """Delete a volume's disk (a missing one is already gone); an iSCSI LUN is only given back to the pool."""
    if driver_name == ISCSI:
        return
    with _driver(driver_name, pool) as driver:
        driver.delete_volume(name)


def resize_disk(driver_name: str, pool: Mapping[str, Any], name: str, size: int, *, shrink: bool) -> None:
    """Change a disk's virtual size with ``qemu-img resize`` (simulated pools only record the new size)."""
    if driver_name == SIMULATOR:
        return
    if driver_name == ISCSI:
        raise DriverError(f"iSCSI volume {name} is a LUN of fixed size; resize the LUN on the target instead")
    with _driver(driver_name, pool) as driver:
        source = driver.disk_source(name)
        timeout = driver.settings.command_timeout
    args = ["resize", "-q", "-f", source.format.qemu_name, *(["--shrink"] if shrink else []), source.uri, str(size)]
    qemu.run("qemu-img", args, timeout=timeout, what=f"resize volume {name}")


def qemu_img_on_disk(driver_name: str, pool: Mapping[str, Any], name: str, args: list[str]) -> str:
    """Run ``qemu-img <args> <disk>`` on a volume's disk (a path or an ``nfs://`` URL); returns its output."""
    with _driver(driver_name, pool) as driver:
        source = driver.disk_source(name)
        timeout = driver.settings.command_timeout
    return qemu.run("qemu-img", [*args, source.uri], timeout=timeout, what=f"{args[0]} on volume {name}")


@dataclass(frozen=True, slots=True)
class Disk:
    """A volume's disk: the storage driver serving its pool, the pool row and its name there."""

    driver: str
    pool: Mapping[str, Any]
    name: str


def _convert(source: Disk, target: Disk, options: list[str], what: str) -> None:
    """``qemu-img convert -n [options]`` from one disk into another, existing one."""
    with _driver(source.driver, source.pool) as driver:
        origin = driver.disk_source(source.name)
        timeout = driver.settings.command_timeout
    with _driver(target.driver, target.pool) as driver:
        destination = driver.disk_source(target.name)
    args = ["convert", "-q", "-n", "-f", origin.format.qemu_name, *options, "-O", destination.format.qemu_name]
    qemu.run("qemu-img", [*args, origin.uri, destination.uri], timeout=timeout, what=what)


def copy_snapshot(source: Disk, snapshot_name: str, target: Disk) -> None:
    """Write the internal snapshot ``snapshot_name`` of one disk into another, existing, qcow2 disk."""
    options = ["-l", f"snapshot.name={snapshot_name}"]
    _convert(source, target, options, f"copy snapshot {snapshot_name} into volume {target.name}")


def copy_disk(source: Disk, target: Disk) -> None:
    """Copy one volume's disk into another, existing one; simulated pools only record it."""
    if source.driver == SIMULATOR and target.driver == SIMULATOR:
        return
    _convert(source, target, [], f"copy volume {source.name} to {target.name}")


def disk_uri(driver_name: str, pool: Mapping[str, Any], name: str) -> tuple[str, DiskFormat]:
    """Where a hypervisor finds the disk: a path, ``nfs://`` or ``iscsi://`` URL, and its format."""
    if driver_name == SIMULATOR:
        return f"/simulator/{pool['uuid']}/{name}", DiskFormat.QCOW2
    with _driver(driver_name, pool) as driver:
        source = driver.disk_source(name)
    return source.uri, DiskFormat(source.format.qemu_name)


def volume_spec(driver_name: str, pool: Mapping[str, Any], name: str, device_id: int, volume_uuid: str) -> VolumeSpec:
    """The compute driver's description of a data disk at ``device_id``, as the storage driver locates it."""
    uri, fmt = disk_uri(driver_name, pool, name)
    return VolumeSpec(source=uri, device_id=device_id, format=fmt, volume_uuid=volume_uuid)


#: The pool detail naming where KVM hosts mount an NFS pool, when not at CloudStack's ``/mnt/<pool uuid>``
#: (the kvm_host role mounts a pool whose uuid it was not given at ``<kvm_host_nfs_mount_root>/<pool name>``).
HOST_MOUNT_POINT = "host_mount_point"


def mount_directory(pool: Mapping[str, Any]) -> str:
    """Where a KVM host mounts an NFS pool: the pool's ``host_mount_point`` detail, else ``/mnt/<pool uuid>``
    as CloudStack's agent does.

    Raises:
        DriverValueError: the detail is not an absolute path.
    """
    detail = (pool.get("details") or {}).get(HOST_MOUNT_POINT)
    if not detail:
        return f"/mnt/{pool['uuid']}"
    directory = str(detail).rstrip("/")
    if not directory.startswith("/"):
        raise DriverValueError(
            f"storage pool {pool.get('name')}: its {HOST_MOUNT_POINT} detail {detail!r} is not an absolute "
            "directory; set it to where the KVM hosts mount the pool (e.g. /mnt/<pool name>)"
        )
    return directory


def host_volume_spec(
    driver_name: str,
    pool: Mapping[str, Any],
    name: str,
    device_id: int,
    volume_uuid: str,
    *,
    mounts: Callable[[str], bool],
) -> VolumeSpec:
    """A disk as the host reaches it: on an NFS pool the host mounts, a file of the mount; otherwise
    what the storage driver names (``nfs://`` or ``iscsi://`` network disks, paths of local pools).

    Args:
        driver_name: the storage registry name serving the pool.
        pool: the ``storage_pool`` row.
        name: the volume's name on the pool (its ``path``).
        device_id: the guest device id.
        volume_uuid: the volume's uuid (the disk serial).
        mounts: the host driver's :meth:`~provisioner.compute.base.HypervisorDriver.mounts`.
    """
    if driver_name == NFS and mounts(mount_directory(pool)):
        path = f"{mount_directory(pool)}/{name}"
        return VolumeSpec(source=path, device_id=device_id, format=DiskFormat.QCOW2, volume_uuid=volume_uuid)
    return volume_spec(driver_name, pool, name, device_id, volume_uuid)
