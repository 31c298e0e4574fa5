"""iSCSI disks as a KVM host reaches them: QEMU's user-space initiator, or the kernel's block device.

A volume on an iSCSI pool reaches the driver as ``iscsi://portal[:port]/<iqn>/<lun>``. The driver's
``iscsi_access`` setting (the ``kvm_host`` role's ``kvm_host_iscsi_access``) decides what the domain gets:

* ``userspace``: that URL as a ``<disk type='network'>``; QEMU logs in itself with libiscsi
  (``qemu-block-extra``), so the host needs no session;
* ``kernel``: the LUN's block device ``/dev/disk/by-path/ip-<portal>:<port>-iscsi-<iqn>-lun-<n>``, which
  udev makes once the host logged in with open-iscsi (the role's ``iscsi_initiator``; CloudStack's KVM
  agent does the same through its ``IscsiAdmStorageAdaptor``), as a ``<disk type='block'>``;
* ``auto``: ``kernel`` for the LUNs whose device exists on the host, ``userspace`` for the others.

The driver never logs in itself: sessions (and their CHAP secrets) are the host's, set up by the role.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from provisioner.compute.types import DiskFormat, SourceKind, VolumeSpec
from provisioner.exceptions import DriverError, DriverValueError

#: Where udev names a kernel session's LUNs by their path (portal, target and LUN).
BY_PATH = "/dev/disk/by-path"
#: The portal port when the URL names none.
DEFAULT_PORT = 3260
_TIMEOUT = 30.0
#: Arguments: device paths; prints those that are block devices, one a line.
_PRESENT = 'for device in "$@"; do [ -b "$device" ] && echo "$device"; done; exit 0'

IscsiAccess = Literal["auto", "kernel", "userspace"]


def by_path(source: str) -> str:
    """The block device udev makes for the LUN of ``iscsi://portal[:port]/<iqn>/<lun>`` after a kernel login.

    Raises:
        DriverValueError: the URL names no portal, target or LUN number.
    """
    url = urlsplit(source)
    iqn, _, lun = url.path.strip("/").rpartition("/")
    if url.scheme != "iscsi" or not url.hostname or not iqn or not lun.isdigit():
        raise DriverValueError(f"iSCSI disk {source!r} must look like iscsi://<portal>[:<port>]/<iqn>/<lun>")
    # udev's path_id writes the session's address as sysfs has it (an IPv6 one unbracketed), as CloudStack does.
    return f"{BY_PATH}/ip-{url.hostname}:{url.port or DEFAULT_PORT}-iscsi-{iqn}-lun-{int(lun)}"


def is_block_device_path(source: str) -> bool:
    """Whether a file disk's source is a device node (rendered ``<disk type='block'>``), not an image file."""
    return source.startswith("/dev/")


def present_devices(shell: list[str], host: str, devices: list[str]) -> set[str]:
    """Which of ``devices`` are block devices on the host.

    Args:
        shell: ``vlans.host_shell`` of the host: ``[]`` for this machine or an ssh command (not None).
        host: the host, for errors.
        devices: absolute device paths.

    Raises:
        DriverError: the shell could not be run.
    """
    if not devices:
        return set()
    if not shell:
        return {device for device in devices if Path(device).is_block_device()}
    command = shlex.join(["sh", "-c", _PRESENT, "sh", *devices])
    try:
        done = subprocess.run(
            [*shell, command], capture_output=True, text=True, timeout=_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DriverError(f"host {host}: could not look for iSCSI block devices: {error}") from None
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise DriverError(f"host {host}: could not look for iSCSI block devices: {reason[0]}")
    return set(done.stdout.split()) & set(devices)


def host_disks(
    volumes: Iterable[VolumeSpec],
    access: IscsiAccess,
    present: Callable[[list[str]], set[str]],
    host: str,
) -> tuple[VolumeSpec, ...]:
    """The volumes as the host reaches them: iSCSI ones become block devices where ``access`` says so.

    Args:
        volumes: the disks as the lifecycle names them.
        access: the driver's ``iscsi_access``.
        present: which of some device paths exist on the host (:func:`present_devices`); asked once, and
            only for ``auto`` and ``kernel``.
        host: the host, for errors.

    Raises:
        DriverError: ``kernel`` access and a LUN without its device (the host has not logged in).
    """
    volumes = tuple(volumes)
    luns = {v.source: by_path(v.source) for v in volumes if v.source_kind is SourceKind.ISCSI}
    if not luns or access == "userspace":
        return volumes
    found = present(sorted(set(luns.values())))
    if access == "kernel":
        missing = sorted(device for device in luns.values() if device not in found)
        if missing:
            raise DriverError(
                f"host {host} has no block device {', '.join(missing)}: it has not logged in to the iSCSI target "
                "(iscsi_access=kernel); run the kvm_host role there with kvm_host_iscsi_access=kernel, or set the "
                "driver's iscsi_access to userspace (or auto) so that QEMU opens the LUN itself"
            )
    return tuple(
        replace(v, source=luns[v.source], kind=SourceKind.FILE, format=DiskFormat.RAW)
        if v.source_kind is SourceKind.ISCSI and luns[v.source] in found
        else v
        for v in volumes
    )
