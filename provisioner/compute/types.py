"""Typed value objects of the compute driver contract: what the management server asks for and gets back.

Every object is a frozen, slotted dataclass: cheap to hold by the hundred thousand (the simulator keeps
one per VM disk) and safe to share between threads.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from provisioner.exceptions import DriverValueError

#: libvirt and CloudStack instance names: letters, digits, ``-``, ``_`` and ``.``, not starting with ``-``.
_NAME_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
#: A crypt(3) hash: ``$id$[rounds=N$]salt$hash`` in crypt's alphabet.
_CRYPT_HASH = re.compile(r"\$[0-9a-z]+(\$rounds=[0-9]+)?\$[A-Za-z0-9./]{1,16}\$[A-Za-z0-9./]{1,128}")


class VMState(enum.StrEnum):
    """CloudStack's ``VirtualMachine.State`` names, as ``listVirtualMachines`` shows them."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MIGRATING = "Migrating"
    ERROR = "Error"
    UNKNOWN = "Unknown"
    SHUTDOWN = "Shutdown"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"


class PowerState(enum.StrEnum):
    """CloudStack's ``VirtualMachine.PowerState``: what the hypervisor last reported."""

    POWER_ON = "PowerOn"
    POWER_OFF = "PowerOff"
    POWER_UNKNOWN = "PowerUnknown"
    POWER_REPORT_MISSING = "PowerReportMissing"


#: The power state a hypervisor report implies for each VM state.
POWER_OF_STATE: Mapping[VMState, PowerState] = {
    VMState.RUNNING: PowerState.POWER_ON,
    VMState.STARTING: PowerState.POWER_ON,
    VMState.STOPPING: PowerState.POWER_ON,
    VMState.MIGRATING: PowerState.POWER_ON,
    VMState.STOPPED: PowerState.POWER_OFF,
    VMState.SHUTDOWN: PowerState.POWER_OFF,
    VMState.DESTROYED: PowerState.POWER_OFF,
    VMState.EXPUNGING: PowerState.POWER_OFF,
}


def power_of(state: VMState) -> PowerState:
    """Return the power state matching a VM state (``PowerUnknown`` for Error and Unknown)."""
    return POWER_OF_STATE.get(state, PowerState.POWER_UNKNOWN)


class Features(enum.Flag):
    """Optional abilities a driver declares; the contract suite and the server check them."""

    NONE = 0
    SNAPSHOTS = enum.auto()
    MIGRATION = enum.auto()
    SCALE = enum.auto()
    VOLUME_ATTACH = enum.auto()
    ISO_ATTACH = enum.auto()
    CONSOLE = enum.auto()
    EVENTS = enum.auto()
    CLOUD_INIT = enum.auto()
    NIC_ATTACH = enum.auto()


class SourceKind(enum.StrEnum):
    """Where a disk's bytes live."""

    FILE = "file"
    NFS = "nfs"
    ISCSI = "iscsi"


class DiskFormat(enum.StrEnum):
    """Image formats a disk (or its backing template) can have."""

    QCOW2 = "qcow2"
    RAW = "raw"
    ISO = "iso"


class DiskBus(enum.StrEnum):
    """Buses a disk can hang on; the bus decides the guest device prefix."""

    VIRTIO = "virtio"
    SCSI = "scsi"
    SATA = "sata"
    IDE = "ide"


class BootDevice(enum.StrEnum):
    """Boot devices in the order the guest firmware tries them."""

    HD = "hd"
    CDROM = "cdrom"
    NETWORK = "network"


def _check_name(what: str, name: str) -> None:
    if not _NAME_RE.match(name):
        raise DriverValueError(
            f"{what} {name!r} is not a valid name: use 1-128 letters, digits, '-', '_' or '.', not starting with '-'"
        )


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What a hypervisor host reports about itself (CloudStack's host cpu/memory/version fields).

    Attributes:
        hostname: the host's own name.
        cpu_sockets: physical sockets.
        cpu_cores: cores in total (CloudStack's ``cpunumber``).
        cpu_threads: hardware threads in total.
        cpu_mhz: speed of one core in MHz (CloudStack's ``cpuspeed``).
        memory_bytes: physical memory.
        hypervisor_type: CloudStack hypervisor name: ``KVM``, ``Simulator``, ``VMware``, ...
        hypervisor_version: version of the hypervisor software.
        arch: CPU architecture, e.g. ``x86_64``.
        capabilities: flags such as ``kvm`` (hardware acceleration usable) or ``tcg``.
    """

    hostname: str
    cpu_sockets: int
    cpu_cores: int
    cpu_threads: int
    cpu_mhz: int
    memory_bytes: int
    hypervisor_type: str
    hypervisor_version: str
    arch: str = "x86_64"
    capabilities: frozenset[str] = frozenset()

    @property
    def total_cpu_mhz(self) -> int:
        """Cores times MHz: the CPU capacity CloudStack's allocator counts."""
        return self.cpu_cores * self.cpu_mhz


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A disk attached to a VM: a ROOT or DATADISK volume, or a read-only image.

    Attributes:
        source: file path, or ``nfs://server/export/path`` / ``iscsi://portal[:port]/iqn/lun``.
        device_id: CloudStack ``deviceid``; 0 is the root disk. Decides the guest device letter.
        format: the image format of ``source``.
        kind: where ``source`` lives; derived from the URL scheme when not given.
        backing: base image (the template) a qcow2 overlay is created on, for file disks.
        bus: the disk bus.
        size_bytes: virtual size, used when the driver creates the disk.
        read_only: attach read-only.
        volume_uuid: the CloudStack volume id, kept as the disk serial.
    """

    source: str
    device_id: int = 0
    format: DiskFormat = DiskFormat.QCOW2
    kind: SourceKind | None = None
    backing: str | None = None
    bus: DiskBus = DiskBus.VIRTIO
    size_bytes: int | None = None
    read_only: bool = False
    volume_uuid: str | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            scheme = self.source.split("://", 1)[0] if "://" in self.source else "file"
            try:
                object.__setattr__(self, "kind", SourceKind(scheme))
            except ValueError:
                raise DriverValueError(
                    f"disk source {self.source!r} has an unsupported scheme {scheme!r}: use a path, nfs:// or iscsi://"
                ) from None
        if self.device_id < 0 or self.device_id > 25:
            raise DriverValueError(f"disk {self.source!r}: device_id {self.device_id} is outside 0..25")
        if self.backing is not None and self.kind is not SourceKind.FILE:
            raise DriverValueError(f"disk {self.source!r}: only file disks can be overlays on a backing template")

    @property
    def source_kind(self) -> SourceKind:
        """The resolved source kind (never None after construction)."""
        assert self.kind is not None
        return self.kind


@dataclass(frozen=True, slots=True)
class NicSpec:
    """A virtual NIC on a host bridge.

    Attributes:
        mac: the MAC address the allocator handed out (lower case, colon separated).
        bridge: the host bridge, e.g. ``cloudbr0``.
        vlan: 802.1Q tag, or None for untagged.
        model: the emulated NIC model.
        device_id: NIC order in the guest.
    """

    mac: str
    bridge: str
    vlan: int | None = None
    model: str = "virtio"
    device_id: int = 0

    def __post_init__(self) -> None:
        if not _MAC_RE.match(self.mac):
            raise DriverValueError(f"NIC MAC {self.mac!r} is not a lower-case colon-separated MAC address")
        if self.vlan is not None and not 1 <= self.vlan <= 4094:
            raise DriverValueError(f"NIC {self.mac}: VLAN {self.vlan} is outside 1..4094")


@dataclass(frozen=True, slots=True)
class SerialConsole:
    """Where the guest's first serial port goes: a ``file`` (path required) or a ``pty``."""

    kind: str = "pty"
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("file", "pty"):
            raise DriverValueError(f"serial console kind {self.kind!r} is not 'file' or 'pty'")
        if self.kind == "file" and not self.path:
            raise DriverValueError("a serial console of kind 'file' needs a path")


@dataclass(frozen=True, slots=True)
class CloudInitSeed:
    """A cloud-init NoCloud seed: user-data and meta-data on a small image labelled ``cidata``.

    Attributes:
        instance_id: meta-data ``instance-id`` (changing it makes cloud-init run again).
        hostname: meta-data ``local-hostname``.
        user_data: the user-data document, passed through unchanged.
        ssh_public_keys: meta-data ``public-keys``.
        bus: bus of the seed device; ``virtio`` attaches it as a read-only disk, others as a CD-ROM.
        password_hash: root's password as a crypt(3) hash (``$6$salt$...``), set through ``vendor-data``
            (see :meth:`vendor_data`), or None to leave the guest's passwords alone. Never the password
            itself: the seed is a file on the host.
    """

    instance_id: str
    hostname: str
    user_data: str = ""
    ssh_public_keys: tuple[str, ...] = ()
    bus: DiskBus = DiskBus.SATA
    password_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # The hash goes into a shell line in vendor-data: only crypt(3)'s own characters may be in it.
        if self.password_hash is not None and not _CRYPT_HASH.fullmatch(self.password_hash):
            raise DriverValueError("a seed's password_hash must be a crypt(3) hash such as $6$<salt>$<hash>")

    def vendor_data(self) -> str:
        """The NoCloud ``vendor-data`` document: a cloud-config setting root's password, or "" for none.

        cloud-init merges it under the user's own user-data. ``cloud-init-per once`` with a name derived
        from the hash runs ``chpasswd -e`` exactly once per new hash: at the first boot after a deploy or
        a ``resetPasswordForVirtualMachine``, on every boot of the seed's instance alike (cloud-init's
        ``password``/``chpasswd`` keys would apply only at the instance's first boot).
        """
        if self.password_hash is None:
            return ""
        tag = hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]
        command = f"echo 'root:{self.password_hash}' | chpasswd -e"
        return f'#cloud-config\nbootcmd:\n  - [cloud-init-per, once, provisioner-password-{tag}, sh, -c, "{command}"]\n'

    def meta_data(self) -> str:
        """Render the NoCloud ``meta-data`` document (YAML, built by hand to stay dependency-free)."""
        lines = [f"instance-id: {self.instance_id}", f"local-hostname: {self.hostname}"]
        if self.ssh_public_keys:
            lines.append("public-keys:")
            lines.extend(f"  - {key.strip()}" for key in self.ssh_public_keys)
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class DirectBoot:
    """Boot a kernel and initrd straight from host files (no bootloader on the disk)."""

    kernel: str
    initrd: str | None = None
    cmdline: str = ""


@dataclass(frozen=True, slots=True)
class VMSpec:
    """Everything a hypervisor needs to define one VM.

    Attributes:
        name: the instance name on the hypervisor (CloudStack's ``i-<account>-<id>-VM``).
        uuid: the VM's uuid, also the hypervisor's domain uuid.
        vcpus: virtual CPUs.
        cpu_mhz: MHz per vCPU from the service offering (used for CPU shares).
        memory_bytes: guest memory.
        disks: the volumes, root first.
        nics: the NICs, in ``device_id`` order.
        serial: the serial console, or None for none.
        boot_order: devices the firmware tries, in order.
        seed: the cloud-init NoCloud seed, or None.
        iso: an ISO attached to the CD-ROM drive, or None.
        direct_boot: kernel/initrd to boot directly, or None to boot from the disks.
        max_vcpus: ceiling for live scaling (None: no live CPU scaling).
        max_memory_bytes: ceiling for live scaling (None: no live memory scaling).
        display_name: the user's name for the VM.
        details: CloudStack VM details (key/value) a driver may honour.
    """

    name: str
    uuid: str
    vcpus: int
    memory_bytes: int
    cpu_mhz: int = 1000
    disks: tuple[VolumeSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    serial: SerialConsole | None = None
    boot_order: tuple[BootDevice, ...] = (BootDevice.HD,)
    seed: CloudInitSeed | None = None
    iso: str | None = None
    direct_boot: DirectBoot | None = None
    max_vcpus: int | None = None
    max_memory_bytes: int | None = None
    display_name: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("VM name", self.name)
        if self.vcpus < 1:
            raise DriverValueError(f"VM {self.name}: vcpus must be at least 1, not {self.vcpus}")
        if self.memory_bytes < 1 << 20:
            raise DriverValueError(f"VM {self.name}: memory_bytes {self.memory_bytes} is below 1 MiB")
        if self.max_vcpus is not None and self.max_vcpus < self.vcpus:
            raise DriverValueError(f"VM {self.name}: max_vcpus {self.max_vcpus} is below vcpus {self.vcpus}")
        if self.max_memory_bytes is not None and self.max_memory_bytes < self.memory_bytes:
            raise DriverValueError(f"VM {self.name}: max_memory_bytes is below memory_bytes")
        seen: set[tuple[DiskBus, int]] = set()
        for disk in self.disks:
            if (disk.bus, disk.device_id) in seen:
                raise DriverValueError(f"VM {self.name}: two disks use {disk.bus} device_id {disk.device_id}")
            seen.add((disk.bus, disk.device_id))


@dataclass(frozen=True, slots=True)
class VMInfo:
    """What a hypervisor reports about one VM."""

    name: str
    uuid: str
    state: VMState
    power_state: PowerState
    vcpus: int
    memory_bytes: int
    host: str | None = None


@dataclass(frozen=True, slots=True)
class VMStateChange:
    """A VM whose state on the hypervisor differs from what the caller last knew."""

    name: str
    old: VMState | None
    new: VMState
    power_state: PowerState
    reason: str


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A VM snapshot on the hypervisor."""

    name: str
    vm_name: str
    created_at: float
    parent: str | None = None
    current: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class ConsoleAddress:
    """How to reach a VM's console: ``vnc``/``spice`` at host:port, or ``serial`` at a file or pty path."""

    protocol: str
    host: str | None = None
    port: int | None = None
    path: str | None = None
