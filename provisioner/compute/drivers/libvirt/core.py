"""The core of the libvirt driver: connection, settings, reading and the mandatory lifecycle verbs."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlsplit

import libvirt
import pydantic

from provisioner.compute.base import DriverSettings, HypervisorDriver
from provisioner.compute.drivers.libvirt import disks, domain_xml, events, iscsi, state, vlans
from provisioner.compute.drivers.libvirt.seed import build_seed_iso
from provisioner.compute.types import (
    Features,
    HostFacts,
    SourceKind,
    VMInfo,
    VMSpec,
    VMState,
    VMStateChange,
    VolumeSpec,
    power_of,
)
from provisioner.exceptions import (
    DriverError,
    DriverValueError,
    HostUnreachableError,
    VMExistsError,
    VMNotFoundError,
    VMStateError,
)

log = logging.getLogger(__name__)
_SCHEMES = ("qemu", "qemu+ssh", "qemu+tls", "qemu+tcp", "qemu+unix", "test")
#: Environment variable naming the ssh program for ``qemu+ssh://`` URIs (the management server sets it to the
#: wrapper of its own identity: provisioner.server.ssh_identity).
SSH_COMMAND_ENV = "PROVISIONER_SSH_COMMAND"
_POLL_SECONDS = 0.2
_CONNECTION_ERRORS = {libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN, libvirt.VIR_ERR_RPC}


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise them instead."""


libvirt.registerErrorHandler(_silence, None)


#: Host CPU flags of hardware virtualization (Intel VT-x, AMD-V).
_HW_VIRT = re.compile(r"\b(vmx|svm)\b")


def hardware_virtualization(capabilities: str, *, local: bool, cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the host CPU can run KVM guests: VT-x/AMD-V among the host CPU features in ``capabilities``,
    or, for a host on this machine, in ``/proc/cpuinfo`` (libvirt lists only features outside the CPU model).
    """
    host_cpu = capabilities.split("</cpu>", 1)[0]
    if re.search(r"<feature\s+name='(vmx|svm)'", host_cpu):
        return True
    if local:
        try:
            with open(cpuinfo, encoding="utf-8") as handle:
                return any(_HW_VIRT.search(line) for line in handle if line.startswith("flags"))
        except OSError:
            return False
    return False


class LibvirtSettings(DriverSettings):
    """Settings of the libvirt driver."""

    domain_type: Literal["auto", "kvm", "qemu"] = pydantic.Field(
        "auto",
        description="kvm, qemu (TCG emulation) or auto: kvm when the host advertises it and its CPU has VT-x/AMD-V "
        "(libvirt advertises kvm wherever /dev/kvm opens, even where KVM guests cannot boot), else qemu.",
    )
    machine: str = pydantic.Field("pc", description="QEMU machine type.")
    console_log_dir: str | None = pydantic.Field(
        "/var/log/libvirt/qemu",
        description="Directory on the host where the serial console output of VMs defined without a serial "
        "console is logged (<name>.console.log); none for no serial console.",
    )
    arch: str = pydantic.Field("x86_64", description="Guest architecture.")
    seed_dir: str | None = pydantic.Field(
        None, description="Directory for cloud-init seed images; default: beside the root disk."
    )
    vlan_mode: Literal["bridge", "openvswitch"] = pydantic.Field(
        "bridge", description="How VLANs reach a NIC: per-VLAN Linux bridges (br<bridge>-<vlan>) or OVS tags."
    )
    vnc_listen: str | None = pydantic.Field(None, description="Listen address of a VNC console, or none.")
    file_access: Literal["auto", "local", "pool"] = pydantic.Field(
        "auto",
        description="How overlays and seeds reach the host: local files, or libvirt storage pools (remote "
        "hosts). auto: local when the URI names no host.",
    )
    nfs_access: Literal["auto", "mount", "userspace"] = pydantic.Field(
        "auto",
        description="How VM disks on NFS primary pools are reached (as the kvm_host role's kvm_host_nfs_access): "
        "mount: files under /mnt/<pool uuid>, the kernel mount CloudStack's KVM agent makes (or under the pool's "
        "host_mount_point detail); userspace: nfs:// network disks QEMU opens with libnfs (qemu-block-extra), for "
        "hosts that cannot mount NFS; auto: mount where that directory is a mount point (this machine) or an active "
        "libvirt pool's target (remote hosts), else userspace.",
    )
    iscsi_access: iscsi.IscsiAccess = pydantic.Field(
        "auto",
        description="How VM disks on iSCSI primary pools are reached (as the kvm_host role's kvm_host_iscsi_access): "
        "kernel: the block device /dev/disk/by-path/ip-<portal>:<port>-iscsi-<iqn>-lun-<n> of the host's open-iscsi "
        "session (the role logs in; CloudStack's KVM agent uses iscsiadm), a <disk type='block'>; userspace: "
        "iscsi:// network disks QEMU opens with libiscsi (qemu-block-extra), for hosts without a session; auto: "
        "kernel for each LUN whose by-path device exists on the host (looked up on this machine, or over ssh for "
        "qemu+ssh:// hosts; hosts the driver has no shell on count as without), else userspace.",
    )
    network_seed_dir: str = pydantic.Field(
        "/var/lib/libvirt/images",
        description="Directory for the cloud-init seed of a VM whose root disk is a network disk (it has no "
        "directory of its own on the host), unless seed_dir is set; in pool file access an active libvirt pool.",
    )
    events: bool = pydantic.Field(False, description="Register for lifecycle events (see ex_watch).")
    keepalive_interval: int = pydantic.Field(5, ge=0, le=600, description="Seconds between keepalives (remote).")
    ssh_command: str | None = pydantic.Field(
        default_factory=lambda: os.environ.get(SSH_COMMAND_ENV) or None,
        description="ssh program libvirt runs for qemu+ssh:// URIs that name none (command=); default: "
        f"${SSH_COMMAND_ENV}, which the management server points at the wrapper of its own key and known hosts.",
    )


def connection_uri(uri: str, ssh_command: str | None) -> str:
    """The URI libvirt opens: a ``qemu+ssh://`` URI gets ``command=ssh_command`` unless it names a command."""
    parts = urlsplit(uri)
    if parts.scheme != "qemu+ssh" or not ssh_command:
        return uri
    if any(name == "command" for name, _ in parse_qsl(parts.query)):
        return uri
    extra = f"command={quote(ssh_command, safe='/')}"
    return uri.split("#", 1)[0] + ("&" if parts.query else "?") + extra


class LibvirtCore(HypervisorDriver):
    """A libvirt host reached by URI: ``qemu:///system``, ``qemu+ssh://root@host/system``, ``test:///ABS/node.xml``.

    The optional verbs are in :class:`~provisioner.compute.drivers.libvirt.driver.LibvirtDriver`.

    Raises:
        DriverValueError: the URI scheme is not one libvirt's QEMU or test drivers use.
    """

    name = "libvirt"
    hypervisor_type = "KVM"
    features = Features.EVENTS | Features.CLOUD_INIT
    STATE_MAP: ClassVar[Mapping[Any, VMState]] = state.STATE_MAP
    settings_model = LibvirtSettings

    def __init__(self, uri: str, settings: Mapping[str, Any] | DriverSettings | None = None) -> None:
        super().__init__(uri, settings)
        scheme = urlsplit(uri).scheme
        if scheme not in _SCHEMES:
            raise DriverValueError(
                f"libvirt URI {uri!r} must start with one of {', '.join(s + '://' for s in _SCHEMES)}"
            )
        self._conn: libvirt.virConnect | None = None
        self._is_test = scheme == "test"
        # qemu:///system and qemu:///session run on this machine: its /proc/cpuinfo speaks for the host.
        self._is_local = scheme == "qemu" and not urlsplit(uri).hostname
        self._is_local = not urlsplit(uri).hostname
        self._local_files = self.opts.file_access == "local" or (self.opts.file_access == "auto" and self._is_local)
        self._domain_type: str | None = None
        self._callbacks: list[int] = []

    @property
    def opts(self) -> LibvirtSettings:
        """The validated settings."""
        assert isinstance(self.settings, LibvirtSettings)
        return self.settings

    # -- connection -------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection (registering the event loop first when events are wanted)."""
        if self.opts.events or not self._is_local:
            events.ensure_event_loop()
        try:
            self._conn = libvirt.open(connection_uri(self.uri, self.opts.ssh_command))
        except libvirt.libvirtError as error:
            raise HostUnreachableError(
                f"cannot connect to libvirt at {self.uri}: {error.get_error_message()}; "
                "check that libvirtd runs there and that this user may connect"
            ) from None
        if not self._is_local and self.opts.keepalive_interval:
            self._conn.setKeepAlive(self.opts.keepalive_interval, 3)

    def close(self) -> None:
        """Close the connection and drop event callbacks."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        for callback in self._callbacks:
            with contextlib.suppress(libvirt.libvirtError):
                conn.domainEventDeregisterAny(callback)
        self._callbacks.clear()
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    @property
    def ex_connection(self) -> libvirt.virConnect:
        """The open libvirt connection."""
        if self._conn is None:
            raise HostUnreachableError(f"libvirt driver for {self.uri} is not connected; call connect() first")
        return self._conn

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn libvirt errors into our errors, naming the host and the action."""
        try:
            yield
        except libvirt.libvirtError as error:
            message = f"libvirt at {self.uri}: {what} failed: {error.get_error_message()}"
            if error.get_error_code() in _CONNECTION_ERRORS:
                raise HostUnreachableError(message + "; reconnect or mark the host down") from None
            raise DriverError(message) from None

    def _domain(self, name: str) -> libvirt.virDomain:
        try:
            return self.ex_connection.lookupByName(name)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise VMNotFoundError(f"VM {name} is not defined on {self.uri}") from None
            raise DriverError(
                f"libvirt at {self.uri}: looking up VM {name} failed: {error.get_error_message()}"
            ) from None

    def _active(self, dom: libvirt.virDomain) -> bool:
        with self._calling(f"reading the state of VM {dom.name()}"):
            return bool(dom.isActive())

    def _info(self, dom: libvirt.virDomain) -> VMInfo:
        with self._calling(f"reading VM {dom.name()}"):
            raw_state, _max_kib, memory_kib, vcpus, _cpu_time = dom.info()
        vm_state = self.map_state(raw_state)
        return VMInfo(dom.name(), dom.UUIDString(), vm_state, power_of(vm_state), vcpus, memory_kib * 1024, self.uri)

    # -- reading ----------------------------------------------------------------------------------

    def host_facts(self) -> HostFacts:
        """Report CPU topology, memory, QEMU version and whether kvm/tcg guests can be defined."""
        conn = self.ex_connection
        with self._calling("reading host facts"):
            _model, memory_mib, _cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
            version = conn.getVersion()
            capabilities = conn.getCapabilities()
            hostname = conn.getHostname()
        domain_types = set(re.findall(r"<domain type='(\w+)'", capabilities))
        # libvirt advertises kvm wherever /dev/kvm opens, even on CPUs without VT-x/AMD-V where a KVM guest
        # never boots: count kvm as usable only when the host CPU has the hardware extensions too.
        usable_kvm = "kvm" in domain_types and hardware_virtualization(capabilities, local=self._is_local)
        flags = ({"kvm"} if usable_kvm else set()) | {"tcg" for t in domain_types if t == "qemu"}
        flags |= {"test"} & domain_types
        total_sockets = max(1, nodes * sockets)
        return HostFacts(
            hostname=hostname,
            cpu_sockets=total_sockets,
            cpu_cores=total_sockets * cores,
            cpu_threads=total_sockets * cores * threads,
            cpu_mhz=mhz,
            memory_bytes=memory_mib * 1024 * 1024,
            hypervisor_type=self.hypervisor_type,
            hypervisor_version=f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}",
            arch=self.opts.arch,
            capabilities=frozenset(flags),
        )

    def list_vms(self) -> list[VMInfo]:
        """List every defined domain."""
        with self._calling("listing VMs"):
            domains = self.ex_connection.listAllDomains(0)
        return [self._info(dom) for dom in domains]

    def get_vm(self, name: str) -> VMInfo:
        """Report one domain."""
        return self._info(self._domain(name))

    def mounts(self, directory: str) -> bool:
        """Whether VM disks under ``directory`` are files of a kernel mount, by the ``nfs_access`` setting."""
        if self.opts.nfs_access != "auto":
            return self.opts.nfs_access == "mount"
        if self._is_test:  # the test driver has no storage: disks stay the paths the spec names
            return True
        if self._local_files:
            return os.path.ismount(directory)
        return disks.active_pool_at(self.ex_connection, directory) is not None

    def ex_host_disks(self, volumes: tuple[VolumeSpec, ...]) -> tuple[VolumeSpec, ...]:
        """The volumes as this host reaches them: iSCSI LUNs as block devices of its kernel sessions or as
        ``iscsi://`` network disks, by the ``iscsi_access`` setting (:mod:`.iscsi`).

        Raises:
            DriverError: ``kernel`` access and a LUN the host has no session for, or the host cannot be asked.
        """
        access = self.opts.iscsi_access
        shell = None if self._is_test else vlans.host_shell(self.uri, self.opts.ssh_command)

        def present(devices: list[str]) -> set[str]:
            if shell is None:  # no way to look: trust the setting (kernel), else QEMU's own initiator
                return set(devices) if access == "kernel" else set()
            return iscsi.present_devices(shell, self.uri, devices)

        return iscsi.host_disks(volumes, access, present, self.uri)

    # -- lifecycle --------------------------------------------------------------------------------

    def _resolve_domain_type(self) -> str:
        if self._domain_type is None:
            if self._is_test:
                self._domain_type = "test"
            elif self.opts.domain_type != "auto":
                self._domain_type = self.opts.domain_type
            else:
                self._domain_type = "kvm" if "kvm" in self.host_facts().capabilities else "qemu"
        return self._domain_type

    def _prepare_files(self, spec: VMSpec) -> tuple[str | None, tuple[str, ...]]:
        """Create overlays and the seed; return the seed path and every file created."""
        created: list[str] = []
        try:
            for volume in spec.disks:
                if volume.backing is None or self._is_test:
                    continue
                if self._local_files:
                    if Path(volume.source).exists():
                        continue
                    disks.create_overlay_local(volume)
                elif not disks.create_overlay_pool(self.ex_connection, volume):
                    continue
                created.append(volume.source)
            seed_path = self._write_seed(spec) if spec.seed is not None else None
        except DriverError:
            self._delete_files(created)
            raise
        if seed_path is not None:
            created.append(seed_path)
        return seed_path, tuple(created)

    def _write_seed(self, spec: VMSpec) -> str:
        assert spec.seed is not None
        root = spec.disks[0] if spec.disks else None
        base = self.opts.seed_dir
        if base is None and root is not None:
            # Beside a file root disk; a network root disk (nfs://, iscsi://) or a block device has no directory
            # of its own on the host.
            is_file = root.source_kind is SourceKind.FILE and not iscsi.is_block_device_path(root.source)
            base = str(Path(root.source).parent) if is_file else self.opts.network_seed_dir
        if base is None:
            raise DriverValueError(f"VM {spec.name} has a cloud-init seed but no disk and no seed_dir setting")
        target = str(Path(base) / f"{spec.name}-cidata.iso")
        if self._local_files:
            build_seed_iso(spec.seed, Path(target))
            return target
        with tempfile.TemporaryDirectory(prefix="provisioner-seed-") as tmp:
            local = build_seed_iso(spec.seed, Path(tmp) / "cidata.iso")
            disks.upload_file(self.ex_connection, local, target)
        return target

    def _bridge_shell(self) -> list[str] | None:
        """How to reach the host's links for guest VLAN bridges (:mod:`.vlans`); None for the test driver, OVS
        VLAN tags and hosts the driver has no shell on (their NICs go on ``br<label>-<vlan>``, made there)."""
        if self._is_test or self.opts.vlan_mode != "bridge":
            return None
        return vlans.host_shell(self.uri, self.opts.ssh_command)

    def _vlan_bridges(self, wanted: list[tuple[str, str, int]]) -> tuple[vlans.VlanBridge, ...]:
        """Make guest VLAN bridges on the host."""
        shell = self._bridge_shell()
        if shell is None or not wanted:
            return ()
        return tuple(vlans.ensure(shell, self.uri, dict.fromkeys(wanted)))

    def _recorded_bridges(self, dom: libvirt.virDomain) -> list[tuple[str, int]]:
        """(device, VLAN) of the VLAN bridges a domain was defined with."""
        with self._calling(f"reading the XML of VM {dom.name()}"):
            return domain_xml.vlan_bridges(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    def _ensure_recorded_bridges(self, dom: libvirt.virDomain) -> None:
        """Make again the VLAN bridges a domain was defined with (a host reboot or clean-up removes them)."""
        self._vlan_bridges([("device", device, vlan) for device, vlan in self._recorded_bridges(dom)])

    def _release_bridges(self, recorded: list[tuple[str, int]]) -> None:
        """Remove the VLAN bridges a VM no longer runs on that no other guest is on; a failure only leaves
        them behind (logged): the VM's own operation has succeeded."""
        shell = self._bridge_shell()
        if shell is None or not recorded:
            return
        try:
            vlans.remove_unused(shell, self.uri, dict.fromkeys(recorded))
        except DriverError as error:
            log.warning("%s; the bridges stay until a later stop removes them", error)

    def define_vm(self, spec: VMSpec) -> VMInfo:
        """Make the NICs' VLAN bridges, overlay disks and the seed, render the domain XML and define it."""
        with contextlib.suppress(VMNotFoundError):
            self._domain(spec.name)
            raise VMExistsError(f"VM {spec.name} is already defined on {self.uri}")
        domain_type = self._resolve_domain_type()
        spec = replace(spec, disks=self.ex_host_disks(spec.disks))
        bridges = self._vlan_bridges([("label", nic.bridge, nic.vlan) for nic in spec.nics if nic.vlan is not None])
        seed_path, created = self._prepare_files(spec)
        if self.opts.console_log_dir and self._is_local and spec.serial is None:
            # libvirt's packages create /var/log/libvirt/qemu; a hand-started libvirtd may lack it.
            Path(self.opts.console_log_dir).mkdir(parents=True, exist_ok=True)
        options = domain_xml.RenderOptions(
            domain_type=domain_type,
            machine=self.opts.machine,
            arch=self.opts.arch,
            seed_path=seed_path,
            owned_files=created,
            vlan_mode=self.opts.vlan_mode,
            vlan_bridges=bridges,
            vnc_listen=self.opts.vnc_listen,
            console_log=f"{self.opts.console_log_dir}/{spec.name}.console.log" if self.opts.console_log_dir else None,
        )
        try:
            xml = domain_xml.render_domain(spec, options)
            with self._calling(f"defining VM {spec.name}"):
                dom = self.ex_connection.defineXML(xml)
        except DriverError:
            self._delete_files(created)
            raise
        return self._info(dom)

    def start_vm(self, name: str) -> VMInfo:
        """Start the domain unless it runs (making its VLAN bridges first)."""
        dom = self._domain(name)
        if self._active(dom):
            return self._info(dom)
        self._ensure_recorded_bridges(dom)
        try:
            with self._calling(f"starting VM {name}"):
                dom.create()
        except HostUnreachableError:
            raise
        except DriverError:
            if not self._recorded_bridges(dom):
                raise
            # Another VM's stop may have removed a bridge made for this one before it had a guest on it.
            self._ensure_recorded_bridges(dom)
            with self._calling(f"starting VM {name}"):
                dom.create()
        return self._info(dom)

    def _wait_inactive(self, dom: libvirt.virDomain, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / _POLL_SECONDS) + 1):
            if not self._active(dom):
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_SECONDS)
        return not self._active(dom)

    def stop_vm(self, name: str, *, force: bool = False, timeout: float | None = None) -> VMInfo:
        """Ask the guest to shut down (ACPI), and power it off if it has not within the timeout; then remove the
        VLAN bridges no other guest is on."""
        dom = self._domain(name)
        if not self._active(dom):
            return self._info(dom)
        if not force:
            with self._calling(f"shutting down VM {name}"):
                dom.shutdown()
            force = not self._wait_inactive(dom, self.opts.stop_timeout if timeout is None else timeout)
        if force:
            with self._calling(f"powering off VM {name}"):
                dom.destroy()
        self._release_bridges(self._recorded_bridges(dom))
        return self._info(dom)

    def reboot_vm(self, name: str, *, force: bool = False) -> VMInfo:
        """Reboot through the guest (ACPI), or reset the virtual hardware when ``force``."""
        dom = self._domain(name)
        if not self._active(dom):
            raise VMStateError(f"VM {name} on {self.uri} is not running; start it instead of rebooting")
        with self._calling(f"rebooting VM {name}"):
            if force:
                dom.reset(0)
            else:
                dom.reboot(0)
        return self._info(dom)

    def _delete_files(self, paths: tuple[str, ...] | list[str]) -> None:
        for path in paths:
            disks.delete_file(self.ex_connection, path, local=self._local_files)

    def destroy_vm(self, name: str) -> None:
        """Power off, undefine with its snapshot metadata, delete the files define_vm created and the VLAN
        bridges no other guest is on."""
        dom = self._domain(name)
        owned = domain_xml.owned_files(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        recorded = self._recorded_bridges(dom)
        with self._calling(f"destroying VM {name}"):
            if self._active(dom):
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        self._delete_files(owned)
        self._release_bridges(recorded)

    # -- extras ------------------------------------------------------------------------------------

    def ex_watch(self, callback: Callable[[VMStateChange], None]) -> None:
        """Call ``callback`` for every lifecycle event (needs the ``events`` setting).

        The callback runs on libvirt's event thread: keep it short and hand work to a queue.
        """
        if not self.opts.events:
            raise DriverValueError(f"ex_watch on {self.uri} needs the driver setting events=true")

        def on_event(_conn: object, dom: libvirt.virDomain, event: int, detail: int, _opaque: object) -> None:
            new = state.EVENT_STATE.get(event, VMState.UNKNOWN)
            reason = f"libvirt event {state.EVENT_NAMES.get(event, event)} (detail {detail})"
            callback(VMStateChange(dom.name(), None, new, power_of(new), reason))

        with self._calling("registering for lifecycle events"):
            self._callbacks.append(
                self.ex_connection.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)
            )

    def ex_domain_xml(self, name: str, *, inactive: bool = False) -> str:
        """The domain XML as libvirt holds it."""
        with self._calling(f"reading the XML of VM {name}"):
            return str(self._domain(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0))

    def _edit_inactive(self, dom: libvirt.virDomain, edit: Callable[[ET.Element], None]) -> None:
        """Change a stopped domain by rewriting its persistent XML."""
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        edit(root)
        with self._calling(f"redefining VM {dom.name()}"):
            self.ex_connection.defineXML(ET.tostring(root, encoding="unicode"))


__all__ = ["LibvirtCore", "LibvirtSettings"]
