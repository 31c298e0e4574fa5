"""The libvirt (KVM/QEMU) driver: the core lifecycle plus migration, scaling, volumes, ISOs,
snapshots and consoles."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import libvirt

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.libvirt import domain_xml, vlans
from provisioner.compute.drivers.libvirt.core import LibvirtCore, LibvirtSettings
from provisioner.compute.types import (
    ConsoleAddress,
    Features,
    NicSpec,
    SnapshotInfo,
    VMInfo,
    VMSpec,
    VolumeSpec,
    power_of,
)
from provisioner.exceptions import DriverError, DriverValueError, VMExistsError, VMNotFoundError, VMStateError

log = logging.getLogger(__name__)
_LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
_CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
_MIGRATE_FLAGS = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE


def _snapshot_info(vm_name: str, snapshot: libvirt.virDomainSnapshot) -> SnapshotInfo:
    root = ET.fromstring(snapshot.getXMLDesc(0))
    parent = root.findtext("parent/name")
    return SnapshotInfo(
        name=root.findtext("name", ""),
        vm_name=vm_name,
        created_at=float(root.findtext("creationTime", "0")),
        parent=parent,
        current=bool(snapshot.isCurrent(0)),
        description=root.findtext("description", ""),
    )


class LibvirtDriver(LibvirtCore):
    """A libvirt host (see :class:`LibvirtCore` for URIs and settings)."""

    features = (
        Features.SNAPSHOTS
        | Features.MIGRATION
        | Features.SCALE
        | Features.VOLUME_ATTACH
        | Features.ISO_ATTACH
        | Features.CONSOLE
        | Features.EVENTS
        | Features.CLOUD_INIT
        | Features.NIC_ATTACH
    )

    # -- migration and scaling ----------------------------------------------------------------------

    def migrate_vm(self, name: str, target: HypervisorDriver | str, *, live: bool = True) -> VMInfo:
        """Live-migrate to another libvirt host (a connected LibvirtDriver, or a URI for peer-to-peer)."""
        dom = self._domain(name)
        if live and not self._active(dom):
            raise VMStateError(f"VM {name} on {self.uri} is not running; live migration needs a running VM")
        flags = _MIGRATE_FLAGS if live else _MIGRATE_FLAGS & ~libvirt.VIR_MIGRATE_LIVE
        if not isinstance(target, (LibvirtDriver, str)):
            raise DriverValueError(f"cannot migrate VM {name} to {target!r}: give a LibvirtDriver or a libvirt URI")
        recorded = self._recorded_bridges(dom)
        # The guest's VLAN bridges must be on the target before the guest arrives (its XML names them).
        if isinstance(target, LibvirtDriver):
            target._ensure_recorded_bridges(dom)
        else:
            self._peer_bridges(target, recorded, make=True)
        try:
            with self._calling(f"migrating VM {name}"):
                if isinstance(target, LibvirtDriver):
                    info = target._info(dom.migrate(target.ex_connection, flags, None, None, 0))
                else:
                    dom.migrateToURI3(target, {}, flags | libvirt.VIR_MIGRATE_PEER2PEER)
                    vcpus, memory = self._size(dom)
                    running = self.map_state(libvirt.VIR_DOMAIN_RUNNING)
                    info = VMInfo(name, dom.UUIDString(), running, power_of(running), vcpus, memory, target)
        except DriverError:  # the guest stays here: bridges made for it there go again when unused
            if isinstance(target, LibvirtDriver):
                target._release_bridges(recorded)
            else:
                self._peer_bridges(target, recorded, make=False)
            raise
        self._release_bridges(recorded)
        return info

    def _peer_bridges(self, uri: str, recorded: list[tuple[str, int]], *, make: bool) -> None:
        """Make (or remove when unused, best effort) a guest's VLAN bridges on the peer-to-peer target ``uri``,
        reached as this driver reaches its own host's links (:meth:`_bridge_shell`)."""
        if self._is_test or self.opts.vlan_mode != "bridge" or not recorded:
            return
        shell = vlans.host_shell(uri, self.opts.ssh_command)
        if shell is None:  # no shell there (qemu+tls://): the target must have them already
            return
        wanted = dict.fromkeys(recorded)
        if make:
            vlans.ensure(shell, uri, [("device", device, vlan) for device, vlan in wanted])
            return
        try:
            vlans.remove_unused(shell, uri, wanted)
        except DriverError as error:
            log.warning("%s; the bridges stay until a later stop there removes them", error)

    def _size(self, dom: libvirt.virDomain) -> tuple[int, int]:
        return domain_xml.vcpus_and_memory(ET.fromstring(dom.XMLDesc(0)))

    def scale_vm(self, name: str, *, vcpus: int | None = None, memory_bytes: int | None = None) -> VMInfo:
        """Scale a stopped VM by rewriting its XML, a running one live within its maxima.

        A running VM gets vCPUs hot-plugged and its extra memory as one hot-plugged DIMM (a balloon on the
        test driver); its persistent XML takes the new size, so the next start has it in one block.

        Raises:
            VMStateError: the running VM has no room to grow (defined without maxima: its template is not
                dynamically scalable), the new size is above its maxima, below its size, or its memory slots
                are used up.
        """
        dom = self._domain(name)
        old_vcpus, old_memory = self._size(dom)
        new_vcpus = old_vcpus if vcpus is None else vcpus
        new_memory = old_memory if memory_bytes is None else memory_bytes
        if new_vcpus < 1 or new_memory < 1 << 20:
            raise DriverValueError(f"VM {name}: cannot scale to {new_vcpus} vCPUs and {new_memory} bytes")
        if not self._active(dom):
            self._edit_inactive(dom, lambda root: domain_xml.set_vcpus_and_memory(root, new_vcpus, new_memory))
            return self._info(dom)
        self._check_room(dom, (old_vcpus, old_memory), (new_vcpus, new_memory))
        slots = domain_xml.live_room(ET.fromstring(dom.XMLDesc(0)))[2]
        with self._calling(f"scaling running VM {name}"):
            if new_vcpus != old_vcpus:
                dom.setVcpusFlags(new_vcpus, _LIVE)
            if new_memory != old_memory and slots is None:
                dom.setMemoryFlags(new_memory // 1024, _LIVE)
            elif new_memory != old_memory:
                dimm = domain_xml.dimm_element(new_memory - old_memory)
                dom.attachDeviceFlags(ET.tostring(dimm, encoding="unicode"), _LIVE)
        self._edit_inactive(dom, lambda root: domain_xml.set_vcpus_and_memory(root, new_vcpus, new_memory))
        return self._info(dom)

    def _check_room(self, dom: libvirt.virDomain, old: tuple[int, int], new: tuple[int, int]) -> None:
        """Refuse a live scale the running domain has no room for, saying why and what to do."""
        max_vcpus, max_memory, slots = domain_xml.live_room(ET.fromstring(dom.XMLDesc(0)))
        where = f"VM {dom.name()} on {self.uri}"
        if (max_vcpus, max_memory) == old and new != old:
            raise VMStateError(
                f"{where} has no room to grow live: it runs at the maxima it was started with, or its template "
                "is not dynamically scalable or enable.dynamic.scale.vm was false when it started; stop it to scale it"
            )
        if new[0] > max_vcpus or new[1] > max_memory:
            raise VMStateError(
                f"{where} can grow live to {max_vcpus} vCPUs and {max_memory >> 20} MiB, not {new[0]} vCPUs and "
                f"{new[1] >> 20} MiB (its maxima since it started: vm.serviceoffering.cpu.cores.max and "
                "vm.serviceoffering.ram.size.max, or the host's capacity); stop it to scale it beyond"
            )
        if new[0] < old[0] or new[1] < old[1]:
            raise VMStateError(f"{where} cannot shrink while running; stop it to scale it down")
        if new[1] > old[1] and slots is not None and slots < 1:
            raise VMStateError(f"{where} has used all its memory slots; stop and start it to scale its memory again")

    # -- volumes and ISOs ---------------------------------------------------------------------------

    def attach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Attach a volume: hot-plug when running, else add it to the persistent XML (an iSCSI LUN as the host
        reaches it: :meth:`ex_host_disks`)."""
        dom = self._domain(name)
        (volume,) = self.ex_host_disks((volume,))
        dev = domain_xml.target_dev(volume.bus, volume.device_id)
        element = domain_xml.disk_element(volume)

        def add(root: ET.Element) -> None:
            devices = root.find("devices")
            assert devices is not None
            if domain_xml.find_disk(devices, dev) is not None:
                raise DriverValueError(f"VM {name} already has a disk at {dev}; pick another device_id")
            devices.append(element)

        if self._active(dom):
            with self._calling(f"attaching {volume.source} to VM {name}"):
                dom.attachDeviceFlags(ET.tostring(element, encoding="unicode"), _LIVE | _CONFIG)
        else:
            self._edit_inactive(dom, add)

    def detach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Detach the disk at the volume's bus and device id."""
        dom = self._domain(name)
        dev = domain_xml.target_dev(volume.bus, volume.device_id)
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = root.find("devices")
        assert devices is not None
        disk = domain_xml.find_disk(devices, dev)
        if disk is None:
            raise VMNotFoundError(f"VM {name} on {self.uri} has no disk at {dev}")
        if self._active(dom):
            with self._calling(f"detaching {dev} from VM {name}"):
                dom.detachDeviceFlags(ET.tostring(disk, encoding="unicode"), _LIVE | _CONFIG)
        else:
            devices.remove(disk)
            with self._calling(f"redefining VM {name}"):
                self.ex_connection.defineXML(ET.tostring(root, encoding="unicode"))

    # -- NICs --------------------------------------------------------------------------------------

    def attach_nic(self, name: str, nic: NicSpec) -> None:
        """Plug a NIC: make its VLAN bridge on the host, then hot-plug the ``<interface>`` define time renders
        (live and persistent) into a running domain, or add it to a stopped one's definition.

        The bridge is recorded in the domain's metadata, so start, stop, destroy and migration treat it as one
        made at define time; when the plug fails, or the domain is not running, a bridge made for it that no
        guest is on is removed again (a start makes it again).
        """
        dom = self._domain(name)
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = root.find("devices")
        assert devices is not None
        if domain_xml.find_interface(devices, nic.mac) is not None:
            raise DriverValueError(f"VM {name} on {self.uri} already has a NIC with MAC {nic.mac}")
        known = set(domain_xml.vlan_bridges(ET.tostring(root, encoding="unicode")))
        bridges = self._vlan_bridges([("label", nic.bridge, nic.vlan)] if nic.vlan is not None else [])
        element = domain_xml.interface_element(nic, self.opts.vlan_mode, bridges)
        try:
            if self._active(dom):
                with self._calling(f"plugging NIC {nic.mac} into VM {name}"):
                    dom.attachDeviceFlags(ET.tostring(element, encoding="unicode"), _LIVE | _CONFIG)
                self._record_bridges(dom, bridges)
            else:

                def add(definition: ET.Element) -> None:
                    found = definition.find("devices")
                    assert found is not None
                    found.append(element)
                    domain_xml.record_vlan_bridges(definition, bridges)

                self._edit_inactive(dom, add)
        except DriverError:
            self._release_bridges([(b.device, b.vlan) for b in bridges if (b.device, b.vlan) not in known])
            raise
        if not self._active(dom):  # recorded: the next start makes it again; until then no guest needs it
            self._release_bridges([(b.device, b.vlan) for b in bridges if (b.device, b.vlan) not in known])

    def _record_bridges(self, dom: libvirt.virDomain, bridges: tuple[vlans.VlanBridge, ...]) -> None:
        """Add VLAN bridges made for a hot-plugged NIC to a running domain's metadata (live and persistent)."""
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        if not domain_xml.record_vlan_bridges(root, bridges):
            return
        self._set_metadata(dom, root)

    def _set_metadata(self, dom: libvirt.virDomain, root: ET.Element) -> None:
        # libvirt puts the element and its children in the namespace itself: they go without one.
        text = ET.tostring(domain_xml.bare_metadata(root), encoding="unicode")
        flags = _LIVE | _CONFIG if self._active(dom) else _CONFIG
        with self._calling(f"recording the VLAN bridges of VM {dom.name()}"):
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, text, "provisioner", domain_xml.METADATA_NS, flags)

    def detach_nic(self, name: str, nic: NicSpec) -> None:
        """Unplug the NIC with ``nic.mac`` (live and persistent when the domain runs), then remove its VLAN bridge
        when no guest is on it any more (one a guest has not released yet stays until a later stop)."""
        dom = self._domain(name)
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = root.find("devices")
        assert devices is not None
        interface = domain_xml.find_interface(devices, nic.mac)
        if interface is None:
            raise VMNotFoundError(f"VM {name} on {self.uri} has no NIC with MAC {nic.mac}")
        devices.remove(interface)
        bridge = domain_xml.interface_bridge(interface)
        released = domain_xml.forget_vlan_bridge(root, bridge) if bridge else None
        if self._active(dom):
            with self._calling(f"unplugging NIC {nic.mac} from VM {name}"):
                dom.detachDeviceFlags(ET.tostring(interface, encoding="unicode"), _LIVE | _CONFIG)
            if released is not None:
                self._set_metadata(dom, root)
        else:
            with self._calling(f"redefining VM {name}"):
                self.ex_connection.defineXML(ET.tostring(root, encoding="unicode"))
        if released is not None:
            self._release_bridges([released])

    def _set_iso(self, name: str, iso: str | None) -> None:
        dom = self._domain(name)
        bus = domain_xml.RenderOptions().iso_bus
        dev = domain_xml.target_dev(bus, domain_xml.ISO_INDEX)
        element = domain_xml.cdrom_element(iso, bus, domain_xml.ISO_INDEX)

        def swap(root: ET.Element) -> None:
            devices = root.find("devices")
            assert devices is not None
            old = domain_xml.find_disk(devices, dev)
            if old is not None:
                devices.remove(old)
            devices.append(element)

        if self._active(dom):
            with self._calling(f"changing the ISO of VM {name}"):
                dom.updateDeviceFlags(ET.tostring(element, encoding="unicode"), _LIVE | _CONFIG)
        else:
            self._edit_inactive(dom, swap)

    def write_seed(self, spec: VMSpec) -> None:
        """Build the seed image again where ``define_vm`` put it (0600; deleted with the VM)."""
        if self._active(self._domain(spec.name)):
            raise VMStateError(f"VM {spec.name} on {self.uri} is running; stop it before its seed is rewritten")
        if spec.seed is not None:
            self._write_seed(spec)

    def attach_iso(self, name: str, iso: str) -> None:
        """Insert an ISO into the VM's CD-ROM drive."""
        self._set_iso(name, iso)

    def detach_iso(self, name: str) -> None:
        """Eject the ISO."""
        self._set_iso(name, None)

    # -- snapshots ---------------------------------------------------------------------------------

    def _snapshot(self, name: str, snapshot: str) -> tuple[libvirt.virDomain, libvirt.virDomainSnapshot]:
        dom = self._domain(name)
        try:
            return dom, dom.snapshotLookupByName(snapshot, 0)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise VMNotFoundError(f"VM {name} on {self.uri} has no snapshot named {snapshot}") from None
            raise

    def create_snapshot(self, name: str, snapshot: str, *, description: str = "") -> SnapshotInfo:
        """Take an internal snapshot (disks, and memory when the VM runs)."""
        dom = self._domain(name)
        if snapshot in dom.snapshotListNames(0):
            raise VMExistsError(f"VM {name} already has a snapshot named {snapshot}")
        xml = (
            f"<domainsnapshot><name>{escape(snapshot)}</name>"
            f"<description>{escape(description)}</description></domainsnapshot>"
        )
        with self._calling(f"snapshotting VM {name}"):
            return _snapshot_info(name, dom.snapshotCreateXML(xml, 0))

    def revert_snapshot(self, name: str, snapshot: str) -> VMInfo:
        """Revert to a snapshot (and to the power state it was taken in)."""
        dom, snap = self._snapshot(name, snapshot)
        with self._calling(f"reverting VM {name} to {snapshot}"):
            dom.revertToSnapshot(snap, 0)
        return self._info(dom)

    def delete_snapshot(self, name: str, snapshot: str) -> None:
        """Delete a snapshot."""
        _dom, snap = self._snapshot(name, snapshot)
        with self._calling(f"deleting snapshot {snapshot} of VM {name}"):
            snap.delete(0)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """List snapshots, oldest first (ties in the one-second creation time broken by ancestry)."""
        dom = self._domain(name)
        with self._calling(f"listing snapshots of VM {name}"):
            infos = [_snapshot_info(name, snap) for snap in dom.listAllSnapshots(0)]
        parents = {info.name: info.parent for info in infos}

        def depth(snapshot: str | None) -> int:
            steps = 0
            while snapshot is not None and steps <= len(parents):
                snapshot, steps = parents.get(snapshot), steps + 1
            return steps

        return sorted(infos, key=lambda info: (info.created_at, depth(info.name), info.name))

    # -- console -----------------------------------------------------------------------------------

    def console_address(self, name: str) -> ConsoleAddress:
        """VNC when the domain has graphics, else its serial console (file or pty path)."""
        dom = self._domain(name)
        with self._calling(f"reading the console of VM {name}"):
            address = domain_xml.console_from_xml(dom.XMLDesc(0))
        if address is None:
            raise VMStateError(f"VM {name} on {self.uri} has neither graphics nor a serial console")
        return address


__all__ = ["LibvirtDriver", "LibvirtSettings"]
