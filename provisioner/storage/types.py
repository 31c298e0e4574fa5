"""Typed value objects of the storage driver contract: capacity, health, volumes and disk sources.

Every object is a frozen, slotted dataclass, like the compute contract's: cheap to keep in bulk and
safe to hand between threads.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from provisioner.exceptions import DriverValueError

#: Volume and image names inside a store: a flat file name, never a path.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")


class StorageFeatures(enum.Flag):
    """Optional abilities a storage driver declares; the contract suite and the server check them."""

    NONE = 0
    #: Can hold VM disks (primary storage).
    PRIMARY = enum.auto()
    #: Can hold templates and ISOs (secondary storage / image store).
    IMAGE_STORE = enum.auto()
    #: ``create_volume`` and ``delete_volume`` work (iSCSI LUNs are provisioned on the target instead).
    VOLUMES = enum.auto()
    #: ``ensure_base_image`` and ``create_overlay``: qcow2 overlays on a shared base image (KVM).
    OVERLAYS = enum.auto()
    #: Holes in raw images stay holes when copied in.
    SPARSE = enum.auto()
    #: Every host of the pool's scope sees the same bytes (NFS, iSCSI, FC; not local storage).
    SHARED = enum.auto()


class PoolState(enum.StrEnum):
    """CloudStack's ``StoragePoolStatus`` names that a driver reports."""

    UP = "Up"
    DOWN = "Down"
    PREPARE_FOR_MAINTENANCE = "PrepareForMaintenance"
    MAINTENANCE = "Maintenance"
    CANCEL_MAINTENANCE = "CancelMaintenance"
    ERROR_IN_MAINTENANCE = "ErrorInMaintenance"


class ImageFormat(enum.StrEnum):
    """CloudStack image formats; :attr:`qemu_name` is what ``qemu-img info`` reports for each."""

    QCOW2 = "QCOW2"
    RAW = "RAW"
    VHD = "VHD"
    VHDX = "VHDX"
    VMDK = "VMDK"
    ISO = "ISO"

    @classmethod
    def parse(cls, value: str | ImageFormat) -> ImageFormat:
        """Accept CloudStack's upper-case names and qemu's lower-case ones (``vpc`` is VHD).

        Raises:
            DriverValueError: the format is not one of these.
        """
        if isinstance(value, ImageFormat):
            return value
        text = value.strip().upper()
        text = {"VPC": "VHD"}.get(text, text)
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise DriverValueError(f"image format {value!r} is not one of {known}") from None

    @property
    def qemu_name(self) -> str:
        """The ``-f``/``-O`` name qemu-img uses (an ISO is read as raw)."""
        return {"VHD": "vpc", "ISO": "raw"}.get(self.value, self.value.lower())


class SourceKind(enum.StrEnum):
    """How the compute layer reaches a disk: a file path, or qemu's ``nfs://`` / ``iscsi://`` drivers."""

    FILE = "file"
    NFS = "nfs"
    ISCSI = "iscsi"


def check_name(what: str, name: str) -> str:
    """Return ``name`` when it is a safe flat file name inside a store.

    Raises:
        DriverValueError: the name is empty, too long, has a ``/`` or starts with ``.`` or ``-``.
    """
    if not _NAME_RE.match(name) or name.endswith((".part", ".journal")):
        raise DriverValueError(
            f"{what} name {name!r} is not valid: use 1-255 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-' and not ending in .part or .journal"
        )
    return name


@dataclass(frozen=True, slots=True)
class Capacity:
    """Bytes of a pool or store, as ``listStoragePools`` and ``listCapacity`` show them.

    Attributes:
        total_bytes: size of the pool (``disksizetotal``).
        used_bytes: bytes the backend reports in use (``disksizeused``).
        allocated_bytes: sum of the virtual sizes of the volumes on it (``disksizeallocated``);
            above ``total_bytes`` when the pool is overprovisioned with thin volumes.
    """

    total_bytes: int
    used_bytes: int
    allocated_bytes: int

    def __post_init__(self) -> None:
        if min(self.total_bytes, self.used_bytes, self.allocated_bytes) < 0:
            raise DriverValueError(f"capacity figures cannot be negative: {self}")

    @property
    def free_bytes(self) -> int:
        """Bytes not in use (never negative)."""
        return max(self.total_bytes - self.used_bytes, 0)

    def used_fraction(self) -> float:
        """Used over total, 0 for an empty (zero-size) pool: what ``pool.storage.capacity.disablethreshold`` reads."""
        return self.used_bytes / self.total_bytes if self.total_bytes else 0.0

    def allocated_fraction(self) -> float:
        """Allocated over total: what ``pool.storage.allocated.capacity.disablethreshold`` reads."""
        return self.allocated_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True, slots=True)
class Health:
    """The result of a health check: the pool state and, when not up, why."""

    state: PoolState
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the pool can take new work."""
        return self.state is PoolState.UP


@dataclass(frozen=True, slots=True)
class DiskSource:
    """Where the compute layer finds a volume: the ``source`` of a compute ``VolumeSpec``.

    Attributes:
        uri: a path, ``nfs://server/export/path/file`` or ``iscsi://portal[:port]/iqn/lun``.
        format: the volume's image format.
        kind: derived from the URI scheme.
    """

    uri: str
    format: ImageFormat

    @property
    def kind(self) -> SourceKind:
        """``file`` for a path, else the URI scheme."""
        scheme = self.uri.split("://", 1)[0] if "://" in self.uri else "file"
        return SourceKind(scheme)


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """One volume or image in a store.

    Attributes:
        name: the name inside the store.
        format: the image format.
        virtual_size: the size the guest sees, in bytes.
        allocated_bytes: bytes the volume takes on the backend (less than ``virtual_size`` when sparse).
        source: how the compute layer reaches it.
        backing: the base image of a qcow2 overlay (a name in the same store), if any.
    """

    name: str
    format: ImageFormat
    virtual_size: int
    allocated_bytes: int
    source: DiskSource
    backing: str | None = None
