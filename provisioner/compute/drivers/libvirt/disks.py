"""Files a libvirt VM needs on its host: qcow2 overlays on template base images, cloud-init seeds,
and their removal.

Two ways to reach the host's files: ``local`` (the host is this machine: ``qemu-img`` and plain
file calls) and ``pool`` (through libvirt's storage API, which is what works over ``qemu+ssh://``).
In pool mode each file's directory must be an active libvirt storage pool on the host (Ansible
defines them when it prepares the host); the pool is refreshed before use, so files that other
tools put there are seen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from provisioner.compute.types import VolumeSpec
from provisioner.exceptions import DriverError

_TIMEOUT = 120
_CHUNK = 1 << 20


def _overlay_cmd(volume: VolumeSpec, backing_format: str) -> list[str]:
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        raise DriverError(f"creating the overlay {volume.source} needs qemu-img: apt-get install qemu-utils")
    assert volume.backing is not None
    command = [qemu_img, "create", "-q", "-f", "qcow2", "-F", backing_format, "-b", volume.backing, volume.source]
    if volume.size_bytes:
        command.append(str(volume.size_bytes))
    return command


def create_overlay_local(volume: VolumeSpec, backing_format: str = "qcow2") -> None:
    """Create ``volume.source`` as a qcow2 overlay on ``volume.backing`` with qemu-img."""
    if not Path(volume.backing or "").is_file():
        raise DriverError(f"template base image {volume.backing} does not exist; copy the template to primary first")
    result = subprocess.run(
        _overlay_cmd(volume, backing_format), capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise DriverError(f"qemu-img could not create overlay {volume.source}: {result.stderr.strip()}")


def active_pool_at(conn: libvirt.virConnect, directory: str) -> libvirt.virStoragePool | None:
    """The active storage pool whose target is ``directory``, or None.

    Raises:
        DriverError: libvirt could not list the pools.
    """
    directory = os.path.normpath(directory)
    try:
        for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            target = ET.fromstring(pool.XMLDesc(0)).findtext("target/path")
            if target is not None and os.path.normpath(target) == directory:
                return pool
    except libvirt.libvirtError as error:
        raise DriverError(f"listing storage pools on {conn.getURI()} failed: {error.get_error_message()}") from None
    return None


def pool_for(conn: libvirt.virConnect, path: str) -> libvirt.virStoragePool:
    """The active storage pool whose target directory holds ``path``, freshly refreshed.

    Raises:
        DriverError: no active pool has that directory as its target.
    """
    directory = os.path.dirname(os.path.normpath(path))
    pool = active_pool_at(conn, directory)
    if pool is not None:
        try:
            pool.refresh(0)
        except libvirt.libvirtError as error:
            raise DriverError(f"refreshing pool {directory} on {conn.getURI()}: {error.get_error_message()}") from None
        return pool
    raise DriverError(
        f"{directory} is not an active libvirt storage pool on {conn.getURI()}; define a dir pool for it "
        "(the hypervisor_host role does) or use file_access=local on the host itself"
    )


def _volume_xml(name: str, capacity: int, image_format: str, backing: tuple[str, str] | None = None) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity").text = str(capacity)
    ET.SubElement(ET.SubElement(vol, "target"), "format", type=image_format)
    if backing is not None:
        store = ET.SubElement(vol, "backingStore")
        ET.SubElement(store, "path").text = backing[0]
        ET.SubElement(store, "format", type=backing[1])
    return ET.tostring(vol, encoding="unicode")


def create_overlay_pool(conn: libvirt.virConnect, volume: VolumeSpec, backing_format: str = "qcow2") -> bool:
    """Create the overlay as a volume of the pool that holds it; False when it exists already."""
    assert volume.backing is not None
    try:
        pool = pool_for(conn, volume.source)
        if os.path.basename(volume.source) in pool.listVolumes():
            return False
        base = pool_for(conn, volume.backing).storageVolLookupByName(os.path.basename(volume.backing))
        capacity = volume.size_bytes or base.info()[1]
        xml = _volume_xml(os.path.basename(volume.source), capacity, "qcow2", (volume.backing, backing_format))
        pool.createXML(xml, 0)
        return True
    except libvirt.libvirtError as error:
        raise DriverError(
            f"could not create overlay {volume.source} on {volume.backing} through libvirt: {error.get_error_message()}"
        ) from None


def upload_file(conn: libvirt.virConnect, local: Path, remote: str) -> None:
    """Copy a local file to ``remote`` (a path inside a pool) as a raw volume, over libvirt's stream API."""
    size = local.stat().st_size
    try:
        pool = pool_for(conn, remote)
        with _IgnoreMissingVolume():
            pool.storageVolLookupByName(os.path.basename(remote)).delete(0)
        vol = pool.createXML(_volume_xml(os.path.basename(remote), size, "raw"), 0)
        stream = conn.newStream(0)
        vol.upload(stream, 0, size, 0)
        with local.open("rb") as source:
            stream.sendAll(lambda _stream, nbytes, _opaque: source.read(min(nbytes, _CHUNK)), None)
        stream.finish()
    except libvirt.libvirtError as error:
        raise DriverError(f"could not upload {local.name} to {remote}: {error.get_error_message()}") from None


class _IgnoreMissingVolume:
    """Ignore libvirt's 'no such volume' while deleting what may not exist."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, libvirt.libvirtError) and exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL


def delete_file(conn: libvirt.virConnect, path: str, *, local: bool) -> None:
    """Delete a file the driver created (missing files are fine)."""
    if local:
        Path(path).unlink(missing_ok=True)
        return
    try:
        with _IgnoreMissingVolume():
            pool_for(conn, path).storageVolLookupByName(os.path.basename(path)).delete(0)
    except libvirt.libvirtError as error:
        raise DriverError(f"could not delete {path}: {error.get_error_message()}") from None
