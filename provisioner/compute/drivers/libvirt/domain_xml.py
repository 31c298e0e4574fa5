"""VMSpec to libvirt domain XML, and the few reads back from domain XML the driver needs.

Pure: no libvirt import, no I/O, so golden files test it (``tests/fixtures/compute/domain_xml/``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

from provisioner.compute.drivers.libvirt.iscsi import is_block_device_path
from provisioner.compute.drivers.libvirt.vlans import VlanBridge, default_bridge
from provisioner.compute.types import (
    ConsoleAddress,
    DiskBus,
    DiskFormat,
    NicSpec,
    SourceKind,
    VMSpec,
    VolumeSpec,
)
from provisioner.exceptions import DriverValueError

#: Namespace of our own domain metadata (files the driver created and must delete on destroy).
METADATA_NS = "https://provisioner.dev/xmlns/libvirt/vm/1.0"
ET.register_namespace("provisioner", METADATA_NS)

_PREFIX = {DiskBus.VIRTIO: "vd", DiskBus.SCSI: "sd", DiskBus.SATA: "sd", DiskBus.IDE: "hd"}
#: CloudStack reserves device id 3 for the CD-ROM; we put the ISO drive at 2 and the seed at 3 (virtio: 25).
ISO_INDEX = 2
SEED_INDEX = 3
SEED_INDEX_VIRTIO = 25
KIB = 1024
#: Memory slots of a domain with room to grow (CloudStack's KVM agent's count): one hot-plugged DIMM per live
#: scale-up until the VM is started again.
MEMORY_SLOTS = 16


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Host-side choices that are not part of the VM spec.

    Attributes:
        domain_type: ``kvm``, ``qemu`` (TCG) or ``test``.
        machine: QEMU machine type.
        arch: guest architecture.
        seed_path: where the NoCloud seed image of this VM is (None: no seed).
        owned_files: files the driver created for this VM (recorded in metadata, deleted on destroy).
        vlan_mode: ``bridge`` (CloudStack's per-VLAN Linux bridges, ``br<bridge>-<vlan>``) or
            ``openvswitch`` (a VLAN tag on an OVS port).
        vnc_listen: address for a VNC console, or None for none.
        iso_bus: bus of the CD-ROM drive that takes ISOs.
        nfs_identity: user and group QEMU presents to NFS servers for ``nfs://`` disks.
        console_log: for a VM without a serial console in its spec, a file on the host where libvirt
            logs the output of the pty serial console the domain then gets (None: no serial console).
        vlan_bridges: the VLAN bridges the driver made for the NICs (recorded in metadata, made again
            before each start); a VLAN NIC without one goes on ``br<bridge>-<vlan>``.
    """

    domain_type: str = "kvm"
    machine: str = "pc"
    arch: str = "x86_64"
    seed_path: str | None = None
    owned_files: tuple[str, ...] = ()
    vlan_mode: str = "bridge"
    vnc_listen: str | None = None
    iso_bus: DiskBus = DiskBus.SATA
    nfs_identity: tuple[str, str] = ("root", "root")
    console_log: str | None = None
    vlan_bridges: tuple[VlanBridge, ...] = ()


def target_dev(bus: DiskBus, index: int) -> str:
    """Guest device name for a bus and device id: ``vda``, ``sdc``, ``hdd``."""
    return _PREFIX[bus] + chr(ord("a") + index)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _network_source(disk: ET.Element, volume: VolumeSpec, nfs_identity: tuple[str, str]) -> None:
    url = urlsplit(volume.source)
    if not url.hostname or not url.path.strip("/"):
        raise DriverValueError(f"network disk {volume.source!r} needs a host and a path")
    name = url.path if volume.source_kind is SourceKind.NFS else url.path.lstrip("/")
    source = _sub(disk, "source", protocol=volume.source_kind.value, name=name)
    host = _sub(source, "host", name=url.hostname)
    if volume.source_kind is SourceKind.ISCSI:
        host.set("port", str(url.port or 3260))
        return
    if url.port is not None:
        # libvirt's schema has no port for NFS disk hosts (QEMU's libnfs asks the portmapper).
        raise DriverValueError(f"network disk {volume.source!r}: NFS disks take no port; drop ':{url.port}'")
    # The schema wants <identity>: the uid/gid QEMU's libnfs presents (the export must not squash them).
    _sub(source, "identity", user=nfs_identity[0], group=nfs_identity[1])


def disk_element(volume: VolumeSpec, nfs_identity: tuple[str, str] = ("root", "root")) -> ET.Element:
    """The ``<disk>`` element of one volume (also used for hot-plug)."""
    is_file = volume.source_kind is SourceKind.FILE
    # A device node (an iSCSI LUN's /dev/disk/by-path/... after a kernel login) is a block disk.
    is_block = is_file and is_block_device_path(volume.source)
    is_cdrom = volume.format is DiskFormat.ISO and volume.bus is not DiskBus.VIRTIO
    kind = "block" if is_block else "file" if is_file else "network"
    disk = ET.Element("disk", {"type": kind, "device": "cdrom" if is_cdrom else "disk"})
    image_format = DiskFormat.RAW if volume.format is DiskFormat.ISO else volume.format
    _sub(disk, "driver", name="qemu", type=image_format.value, cache="none" if not volume.read_only else "default")
    if is_block:
        _sub(disk, "source", dev=volume.source)
    elif is_file:
        _sub(disk, "source", file=volume.source)
    else:
        _network_source(disk, volume, nfs_identity)
    _sub(disk, "target", dev=target_dev(volume.bus, volume.device_id), bus=volume.bus.value)
    if volume.volume_uuid:
        _sub(disk, "serial", volume.volume_uuid.replace("-", "")[:20])
    if volume.read_only or is_cdrom:
        _sub(disk, "readonly")
    return disk


def cdrom_element(source: str | None, bus: DiskBus, index: int) -> ET.Element:
    """A CD-ROM drive (empty when ``source`` is None); on virtio, a read-only raw disk instead."""
    device = "disk" if bus is DiskBus.VIRTIO else "cdrom"
    disk = ET.Element("disk", {"type": "file", "device": device})
    _sub(disk, "driver", name="qemu", type="raw")
    if source is not None:
        _sub(disk, "source", file=source)
    _sub(disk, "target", dev=target_dev(bus, index), bus=bus.value)
    _sub(disk, "readonly")
    return disk


def interface_element(nic: NicSpec, vlan_mode: str, vlan_bridges: tuple[VlanBridge, ...] = ()) -> ET.Element:
    """The ``<interface>`` of one NIC on a host bridge (``vlan_bridges``: see :class:`RenderOptions`)."""
    bridge = nic.bridge
    if nic.vlan is not None and vlan_mode == "bridge":
        made = (b.bridge for b in vlan_bridges if (b.label, b.vlan) == (nic.bridge, nic.vlan))
        bridge = next(made, default_bridge(nic.bridge, nic.vlan))
    interface = ET.Element("interface", {"type": "bridge"})
    _sub(interface, "mac", address=nic.mac)
    _sub(interface, "source", bridge=bridge)
    if vlan_mode == "openvswitch":
        _sub(interface, "virtualport", type="openvswitch")
        if nic.vlan is not None:
            _sub(_sub(interface, "vlan"), "tag", id=str(nic.vlan))
    _sub(interface, "model", type=nic.model)
    return interface


def _os(domain: ET.Element, spec: VMSpec, options: RenderOptions) -> None:
    os_element = _sub(domain, "os")
    type_attrs = (
        {"arch": options.arch} if options.domain_type == "test" else {"arch": options.arch, "machine": options.machine}
    )
    _sub(os_element, "type", "hvm", **type_attrs)
    if spec.direct_boot is not None:
        _sub(os_element, "kernel", spec.direct_boot.kernel)
        if spec.direct_boot.initrd:
            _sub(os_element, "initrd", spec.direct_boot.initrd)
        if spec.direct_boot.cmdline:
            _sub(os_element, "cmdline", spec.direct_boot.cmdline)
        return
    for device in spec.boot_order:
        _sub(os_element, "boot", dev=device.value)


def _devices(domain: ET.Element, spec: VMSpec, options: RenderOptions) -> None:
    devices = _sub(domain, "devices")
    used: set[str] = set()

    def add(disk: ET.Element) -> None:
        target = disk.find("target")
        assert target is not None
        dev = target.get("dev", "")
        if dev in used:
            raise DriverValueError(f"VM {spec.name}: two devices would both be {dev}; pick another device_id or bus")
        used.add(dev)
        devices.append(disk)

    for volume in sorted(spec.disks, key=lambda v: (v.bus.value, v.device_id)):
        add(disk_element(volume, options.nfs_identity))
    if options.domain_type != "test" or spec.iso is not None:
        add(cdrom_element(spec.iso, options.iso_bus, ISO_INDEX))
    if spec.seed is not None and options.seed_path is not None:
        index = SEED_INDEX_VIRTIO if spec.seed.bus is DiskBus.VIRTIO else SEED_INDEX
        add(cdrom_element(options.seed_path, spec.seed.bus, index))
    for nic in sorted(spec.nics, key=lambda n: n.device_id):
        devices.append(interface_element(nic, options.vlan_mode, options.vlan_bridges))
    if spec.serial is not None:
        serial = _sub(devices, "serial", type=spec.serial.kind)
        if spec.serial.kind == "file":
            assert spec.serial.path is not None
            # Append, so the log keeps every boot instead of being truncated at each start.
            _sub(serial, "source", path=spec.serial.path, append="on")
        _sub(serial, "target", port="0")
    elif options.console_log is not None and options.domain_type != "test":
        # A pty console (virsh console, console_address) whose output virtlogd also keeps, as a KVM host's
        # agent would: what the guest printed while booting can be read afterwards.
        serial = _sub(devices, "serial", type="pty")
        _sub(serial, "log", file=options.console_log, append="on")
        _sub(serial, "target", port="0")
    if options.vnc_listen is not None:
        _sub(devices, "graphics", type="vnc", port="-1", autoport="yes", listen=options.vnc_listen)
    if options.domain_type != "test":
        _sub(devices, "memballoon", model="virtio")


def render_domain(spec: VMSpec, options: RenderOptions) -> str:
    """Render a VM spec as libvirt domain XML.

    Raises:
        DriverValueError: the spec cannot be expressed (two devices on one target, a bad network URL).
    """
    domain = ET.Element("domain", {"type": options.domain_type})
    _sub(domain, "name", spec.name)
    _sub(domain, "uuid", spec.uuid)
    if spec.display_name:
        _sub(domain, "title", spec.display_name)
    metadata = _sub(_sub(domain, "metadata"), f"{{{METADATA_NS}}}vm")
    for path in options.owned_files:
        _sub(metadata, f"{{{METADATA_NS}}}owned-file", path=path)
    for made in options.vlan_bridges:
        _sub(metadata, f"{{{METADATA_NS}}}vlan-bridge", device=made.device, vlan=str(made.vlan), bridge=made.bridge)
    memory_kib = spec.memory_bytes // KIB
    max_vcpus = spec.max_vcpus or spec.vcpus
    # Room to grow live (CloudStack's dynamic scaling): DIMMs are hot-plugged into memory slots up to
    # <maxMemory>, as CloudStack's KVM agent does; a balloon would need the guest's driver to shrink at boot,
    # and until then the guest holds the whole maximum. The test driver has no hot-plug: its maximum is a balloon.
    dimms = bool(spec.max_memory_bytes and spec.max_memory_bytes > spec.memory_bytes and options.domain_type != "test")
    if dimms:
        assert spec.max_memory_bytes is not None
        _sub(domain, "maxMemory", str(spec.max_memory_bytes // KIB), slots=str(MEMORY_SLOTS), unit="KiB")
    _sub(
        domain, "memory", str(memory_kib if dimms else (spec.max_memory_bytes or spec.memory_bytes) // KIB), unit="KiB"
    )
    _sub(domain, "currentMemory", str(memory_kib), unit="KiB")
    vcpu = _sub(domain, "vcpu", str(max_vcpus), placement="static")
    if max_vcpus > spec.vcpus:
        vcpu.set("current", str(spec.vcpus))
    if options.domain_type != "test":
        # CloudStack gives each VM CPU shares of vCPUs x MHz, so offerings weigh against each other.
        _sub(_sub(domain, "cputune"), "shares", str(spec.vcpus * spec.cpu_mhz))
    if dimms:  # memory hot-plug needs a NUMA topology: one cell with every possible vCPU
        cell = _sub(_sub(_sub(domain, "cpu"), "numa"), "cell", id="0", cpus=f"0-{max_vcpus - 1}")
        cell.set("memory", str(memory_kib))
        cell.set("unit", "KiB")
    _os(domain, spec, options)
    if options.domain_type != "test":
        features = _sub(domain, "features")
        _sub(features, "acpi")
        _sub(features, "apic")
        _sub(domain, "clock", offset="utc")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    _devices(domain, spec, options)
    ET.indent(domain, space="  ")
    return ET.tostring(domain, encoding="unicode") + "\n"


# -- reading domain XML back --------------------------------------------------------------------------


def owned_files(domain_xml: str) -> list[str]:
    """Files the driver created for a domain, from its metadata."""
    root = ET.fromstring(domain_xml)
    return [el.get("path", "") for el in root.iter(f"{{{METADATA_NS}}}owned-file") if el.get("path")]


def vlan_bridges(domain_xml: str) -> list[tuple[str, int]]:
    """(device, VLAN) of each VLAN bridge the driver made for a domain, from its metadata."""
    root = ET.fromstring(domain_xml)
    return [(el.get("device", ""), int(el.get("vlan", "0"))) for el in root.iter(f"{{{METADATA_NS}}}vlan-bridge")]


def find_interface(devices: ET.Element, mac: str) -> ET.Element | None:
    """The ``<interface>`` whose MAC is ``mac`` (any case), or None."""
    for interface in devices.findall("interface"):
        address = interface.find("mac")
        if address is not None and (address.get("address") or "").lower() == mac.lower():
            return interface
    return None


def interface_bridge(interface: ET.Element) -> str | None:
    """The host bridge an ``<interface>`` is on, or None."""
    source = interface.find("source")
    return None if source is None else source.get("bridge")


def metadata_element(root: ET.Element) -> ET.Element:
    """The domain's own metadata element (``<provisioner:vm>``), made when the domain has none."""
    metadata = root.find("metadata")
    if metadata is None:
        metadata = _sub(root, "metadata")
    vm = metadata.find(f"{{{METADATA_NS}}}vm")
    return vm if vm is not None else _sub(metadata, f"{{{METADATA_NS}}}vm")


def bare_metadata(root: ET.Element) -> ET.Element:
    """The domain's metadata element with its namespace taken off every tag (what ``setMetadata`` wants)."""
    bare = ET.Element("vm")
    for child in metadata_element(root):
        bare.append(ET.Element(child.tag.rsplit("}", 1)[-1], dict(child.attrib)))
    return bare


def record_vlan_bridges(root: ET.Element, made: tuple[VlanBridge, ...]) -> bool:
    """Add the VLAN bridges of ``made`` the domain's metadata does not record yet; tells whether any was added."""
    vm = metadata_element(root)
    recorded = {(el.get("device"), el.get("vlan")) for el in vm.iter(f"{{{METADATA_NS}}}vlan-bridge")}
    added = False
    for bridge in made:
        if (bridge.device, str(bridge.vlan)) not in recorded:
            _sub(vm, f"{{{METADATA_NS}}}vlan-bridge", device=bridge.device, vlan=str(bridge.vlan), bridge=bridge.bridge)
            added = True
    return added


def forget_vlan_bridge(root: ET.Element, bridge: str) -> tuple[str, int] | None:
    """Drop the metadata record of the VLAN bridge ``bridge`` when no ``<interface>`` is on it any more;
    returns its (device, VLAN), or None when it is not a recorded VLAN bridge or still in use."""
    devices = root.find("devices")
    if devices is not None and any(interface_bridge(i) == bridge for i in devices.findall("interface")):
        return None
    vm = metadata_element(root)
    for record in vm.findall(f"{{{METADATA_NS}}}vlan-bridge"):
        if record.get("bridge") == bridge:
            vm.remove(record)
            return record.get("device", ""), int(record.get("vlan", "0"))
    return None


def find_disk(devices: ET.Element, dev: str) -> ET.Element | None:
    """The ``<disk>`` whose target is ``dev``, or None."""
    for disk in devices.findall("disk"):
        target = disk.find("target")
        if target is not None and target.get("dev") == dev:
            return disk
    return None


def console_from_xml(domain_xml: str) -> ConsoleAddress | None:
    """The console of a (running) domain: VNC when it has graphics, else its first serial port."""
    root = ET.fromstring(domain_xml)
    graphics = root.find("devices/graphics")
    if graphics is not None and graphics.get("port") not in (None, "-1"):
        return ConsoleAddress(
            graphics.get("type", "vnc"), host=graphics.get("listen"), port=int(graphics.get("port", "0"))
        )
    serial = root.find("devices/serial")
    if serial is None:
        return None
    source = serial.find("source")
    path = source.get("path") if source is not None else None
    return ConsoleAddress("serial", path=path or f"{serial.get('type', 'pty')}:0")


def vcpus_and_memory(root: ET.Element) -> tuple[int, int]:
    """Current vCPUs and memory (bytes) from a domain element."""
    vcpu = root.find("vcpu")
    memory = root.find("currentMemory")
    if memory is None:
        memory = root.find("memory")
    assert vcpu is not None and vcpu.text and memory is not None and memory.text
    return int(vcpu.get("current", vcpu.text)), int(memory.text) * KIB


def live_room(root: ET.Element) -> tuple[int, int, int | None]:
    """What a running domain can grow to: (vCPUs, memory bytes, free memory slots); slots None when its
    memory grows by balloon up to ``<memory>`` (the test driver) instead of by DIMMs up to ``<maxMemory>``."""
    vcpu = root.find("vcpu")
    maximum = root.find("maxMemory")
    assert vcpu is not None and vcpu.text
    if maximum is None or not maximum.text:
        memory = root.find("memory")
        assert memory is not None and memory.text
        return int(vcpu.text), int(memory.text) * KIB, None
    # libvirt always reports memory sizes in KiB.
    return int(vcpu.text), int(maximum.text) * KIB, int(maximum.get("slots", "0")) - len(root.findall("devices/memory"))


def dimm_element(size_bytes: int) -> ET.Element:
    """A DIMM of ``size_bytes`` for NUMA cell 0 (live memory hot-plug)."""
    dimm = ET.Element("memory", {"model": "dimm"})
    target = _sub(dimm, "target")
    _sub(target, "size", str(size_bytes // KIB), unit="KiB")
    _sub(target, "node", "0")
    return dimm


def set_vcpus_and_memory(root: ET.Element, vcpus: int, memory_bytes: int) -> None:
    """Rewrite an inactive domain's size, raising the maxima when the new size is above them."""
    vcpu = root.find("vcpu")
    memory = root.find("memory")
    current = root.find("currentMemory")
    maximum = root.find("maxMemory")
    assert vcpu is not None and vcpu.text and memory is not None and memory.text
    if vcpus > int(vcpu.text):
        vcpu.text = str(vcpus)
    vcpu.set("current", str(vcpus))
    if vcpu.get("current") == vcpu.text:
        del vcpu.attrib["current"]
    memory.set("unit", "KiB")
    # libvirt always reports <memory> and <maxMemory> in KiB.
    if maximum is None:
        memory.text = str(max(int(memory.text), memory_bytes // KIB))
    else:  # one block again at the next start: DIMMs hot-plugged meanwhile fold into the NUMA cell
        for devices in root.findall("devices"):
            for dimm in devices.findall("memory"):
                devices.remove(dimm)
        memory.text = str(memory_bytes // KIB)
        maximum.text = str(max(int(maximum.text or "0"), memory_bytes // KIB))
        cell = root.find("cpu/numa/cell")
        if cell is not None:
            cell.attrib.update(cpus=f"0-{int(vcpu.text) - 1}", memory=str(memory_bytes // KIB), unit="KiB")
    if current is None:
        current = _sub(root, "currentMemory")
    current.set("unit", "KiB")
    current.text = str(memory_bytes // KIB)


__all__ = [
    "RenderOptions",
    "bare_metadata",
    "cdrom_element",
    "console_from_xml",
    "dimm_element",
    "disk_element",
    "find_disk",
    "find_interface",
    "forget_vlan_bridge",
    "interface_bridge",
    "live_room",
    "metadata_element",
    "owned_files",
    "record_vlan_bridges",
    "render_domain",
    "set_vcpus_and_memory",
    "target_dev",
    "vcpus_and_memory",
    "vlan_bridges",
]
