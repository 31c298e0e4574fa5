"""Files a libvirt VM needs on its host: qcow2 overlays on template base images, and their removal.

On a local URI (``qemu:///system``) the files are made with ``qemu-img``; on a remote one
(``qemu+ssh://``) through libvirt's storage API, so the base image's directory must be a libvirt
storage pool on that host (Ansible defines it when it prepares the host).
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


def create_overlay_remote(conn: libvirt.virConnect, volume: VolumeSpec, backing_format: str = "qcow2") -> None:
    """Create the overlay through the storage pool that holds the base image."""
    assert volume.backing is not None
    try:
        base = conn.storageVolLookupByPath(volume.backing)
        pool = base.storagePoolLookupByVolume()
    except libvirt.libvirtError as error:
        raise DriverError(
            f"template base image {volume.backing} is not in a libvirt storage pool on {conn.getURI()}: "
            f"{error.get_error_message()}; define a dir pool for its directory"
        ) from None
    capacity = volume.size_bytes or base.info()[1]
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = os.path.basename(volume.source)
    ET.SubElement(vol, "capacity").text = str(capacity)
    ET.SubElement(ET.SubElement(vol, "target"), "format", type="qcow2")
    backing = ET.SubElement(vol, "backingStore")
    ET.SubElement(backing, "path").text = volume.backing
    ET.SubElement(backing, "format", type=backing_format)
    try:
        pool.createXML(ET.tostring(vol, encoding="unicode"), 0)
    except libvirt.libvirtError as error:
        raise DriverError(f"could not create overlay {volume.source}: {error.get_error_message()}") from None


def delete_file(conn: libvirt.virConnect, path: str, *, local: bool) -> None:
    """Delete a file the driver created: through its storage pool if it has one, else locally."""
    try:
        conn.storageVolLookupByPath(path).delete(0)
        return
    except libvirt.libvirtError:
        pass
    if local:
        Path(path).unlink(missing_ok=True)
