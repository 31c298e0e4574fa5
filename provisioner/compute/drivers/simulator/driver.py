"""The simulator driver: the reference implementation of the contract, backed by :mod:`.cloud`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pydantic

from provisioner.compute.base import DriverSettings, HypervisorDriver
from provisioner.compute.drivers.simulator.cloud import CLOUD, SimHost, SimulatorCloud, SimVM
from provisioner.compute.types import (
    ConsoleAddress,
    Features,
    HostFacts,
    NicSpec,
    SnapshotInfo,
    VMInfo,
    VMSpec,
    VMState,
    VolumeSpec,
    power_of,
)
from provisioner.exceptions import DriverValueError, HostUnreachableError, VMExistsError, VMNotFoundError, VMStateError

SIMULATOR_VERSION = "4.19.0-sim"


class SimulatorSettings(DriverSettings):
    """Settings of the simulator driver."""

    latency: float = pydantic.Field(0.0, ge=0, le=60, description="Seconds added to every call of this host.")
    auto_add: bool = pydantic.Field(True, description="Create the simulated host on connect if it does not exist.")


class SimulatorDriver(HypervisorDriver):
    """A hypervisor that lives in this process; nothing is contacted.

    Args:
        uri: ``http://sim/<cluster>/<host>`` with optional capacity parameters.
        settings: :class:`SimulatorSettings` values.
        cloud: the simulated cloud to use; the process-wide :data:`CLOUD` by default.
    """

    name = "simulator"
    hypervisor_type = "Simulator"
    features = (
        Features.SNAPSHOTS
        | Features.MIGRATION
        | Features.SCALE
        | Features.VOLUME_ATTACH
        | Features.ISO_ATTACH
        | Features.CONSOLE
        | Features.CLOUD_INIT
        | Features.NIC_ATTACH
    )
    # The simulator stores CloudStack states directly.
    STATE_MAP: ClassVar[Mapping[Any, VMState]] = {state: state for state in VMState}
    settings_model = SimulatorSettings

    def __init__(
        self,
        uri: str,
        settings: Mapping[str, Any] | DriverSettings | None = None,
        *,
        cloud: SimulatorCloud | None = None,
    ) -> None:
        super().__init__(uri, settings)
        self.cloud = cloud if cloud is not None else CLOUD
        self._host: SimHost | None = None

    # -- connection -------------------------------------------------------------------------------

    def connect(self) -> None:
        """Attach to the simulated host, creating it when ``auto_add`` is set."""
        settings = self.settings
        assert isinstance(settings, SimulatorSettings)
        host = self.cloud.add_host(self.uri) if settings.auto_add else self.cloud.get_host(self.uri)
        if settings.latency:
            host.set_latency(settings.latency)
        host.check("connect")
        self._host = host

    def close(self) -> None:
        """Detach; the simulated host and its VMs live on in the cloud."""
        self._host = None

    @property
    def ex_host(self) -> SimHost:
        """The simulated host, for fault injection (``ex_host.set_down()``, ``ex_host.fail_next(...)``)."""
        if self._host is None:
            raise HostUnreachableError(f"simulator driver for {self.uri} is not connected; call connect() first")
        return self._host

    def _enter(self, verb: str, vm_name: str | None = None) -> SimHost:
        host = self.ex_host
        host.check(verb, vm_name)
        return host

    def _vm(self, host: SimHost, name: str) -> SimVM:
        vm = host.vms.get(name)
        if vm is None:
            raise VMNotFoundError(f"VM {name} is not defined on simulated host {host.url}")
        return vm

    def _info(self, host: SimHost, vm: SimVM) -> VMInfo:
        return VMInfo(vm.name, vm.uuid, vm.state, power_of(vm.state), vm.vcpus, vm.memory_bytes, host.url)

    # -- reading ----------------------------------------------------------------------------------

    def host_facts(self) -> HostFacts:
        """Report the capacity given in the host URL (CloudStack simulator defaults otherwise)."""
        host = self._enter("host_facts")
        config = host.config
        return HostFacts(
            hostname=config.host,
            cpu_sockets=1,
            cpu_cores=config.cpu_cores,
            cpu_threads=config.cpu_cores,
            cpu_mhz=config.cpu_mhz,
            memory_bytes=config.memory_bytes,
            hypervisor_type=self.hypervisor_type,
            hypervisor_version=SIMULATOR_VERSION,
            capabilities=frozenset({"simulated"}),
        )

    def list_vms(self) -> list[VMInfo]:
        """List the host's VMs."""
        host = self._enter("list_vms")
        with host.lock:
            return [self._info(host, vm) for vm in host.vms.values()]

    def get_vm(self, name: str) -> VMInfo:
        """Report one VM."""
        host = self._enter("get_vm", name)
        with host.lock:
            return self._info(host, self._vm(host, name))

    # -- lifecycle --------------------------------------------------------------------------------

    def define_vm(self, spec: VMSpec) -> VMInfo:
        """Define a VM in the Stopped state."""
        host = self._enter("define_vm", spec.name)
        with host.lock:
            if spec.name in host.vms:
                raise VMExistsError(f"VM {spec.name} is already defined on simulated host {host.url}")
            vm = SimVM(spec.name, spec.uuid, spec.vcpus, spec.memory_bytes, spec.disks)
            vm.iso = spec.iso
            vm.max_vcpus = spec.max_vcpus
            vm.max_memory_bytes = spec.max_memory_bytes
            vm.nics = spec.nics
            host.vms[spec.name] = vm
            return self._info(host, vm)

    def write_seed(self, spec: VMSpec) -> None:
        """Accept a new seed for a stopped VM (the simulator keeps no seeds, as in ``define_vm``)."""
        host = self._enter("write_seed", spec.name)
        with host.lock:
            if self._vm(host, spec.name).state is VMState.RUNNING:
                raise VMStateError(f"VM {spec.name} on simulated host {host.url} is running; stop it first")

    def start_vm(self, name: str) -> VMInfo:
        """Power on; fails when a start failure was injected for the VM or the verb."""
        host = self._enter("start_vm", name)
        with host.lock:
            vm = self._vm(host, name)
            vm.state = VMState.RUNNING
            return self._info(host, vm)

    def stop_vm(self, name: str, *, force: bool = False, timeout: float | None = None) -> VMInfo:
        """Power off (graceful and forced stops behave the same here)."""
        host = self._enter("stop_vm", name)
        with host.lock:
            vm = self._vm(host, name)
            vm.state = VMState.STOPPED
            return self._info(host, vm)

    def reboot_vm(self, name: str, *, force: bool = False) -> VMInfo:
        """Reboot a running VM."""
        host = self._enter("reboot_vm", name)
        with host.lock:
            vm = self._vm(host, name)
            if vm.state is not VMState.RUNNING:
                raise VMStateError(f"VM {name} on {host.url} is {vm.state}, not Running; start it instead of rebooting")
            return self._info(host, vm)

    def destroy_vm(self, name: str) -> None:
        """Forget the VM (its disks are only records here)."""
        host = self._enter("destroy_vm", name)
        with host.lock:
            self._vm(host, name)
            del host.vms[name]

    # -- optional verbs ---------------------------------------------------------------------------

    def migrate_vm(self, name: str, target: HypervisorDriver | str, *, live: bool = True) -> VMInfo:
        """Move the VM record to another simulated host of the same cloud."""
        host = self._enter("migrate_vm", name)
        target_url = target.uri if isinstance(target, HypervisorDriver) else target
        destination = self.cloud.get_host(target_url)
        destination.check("receive_vm", name)
        if destination is host:
            raise DriverValueError(f"cannot migrate VM {name} to the host it is on ({host.url})")
        # Lock in URL order so two opposite migrations cannot deadlock.
        first, second = sorted((host, destination), key=lambda h: h.url)
        with first.lock, second.lock:
            vm = self._vm(host, name)
            if live and vm.state is not VMState.RUNNING:
                raise VMStateError(f"VM {name} is {vm.state}; live migration needs a running VM")
            if name in destination.vms:
                raise VMExistsError(f"VM {name} already exists on destination {destination.url}")
            destination.vms[name] = host.vms.pop(name)
            return self._info(destination, vm)

    def scale_vm(self, name: str, *, vcpus: int | None = None, memory_bytes: int | None = None) -> VMInfo:
        """Change CPU/memory; a running VM only within the maxima it was defined with."""
        host = self._enter("scale_vm", name)
        with host.lock:
            vm = self._vm(host, name)
            new_vcpus = vm.vcpus if vcpus is None else vcpus
            new_memory = vm.memory_bytes if memory_bytes is None else memory_bytes
            if new_vcpus < 1 or new_memory < 1 << 20:
                raise DriverValueError(f"VM {name}: cannot scale to {new_vcpus} vCPUs and {new_memory} bytes")
            if vm.state is VMState.RUNNING and (
                new_vcpus > (vm.max_vcpus or vm.vcpus) or new_memory > (vm.max_memory_bytes or vm.memory_bytes)
            ):
                raise VMStateError(
                    f"VM {name} is running and was defined without room to grow to {new_vcpus} vCPUs / "
                    f"{new_memory} bytes; stop it first or define it with max_vcpus/max_memory_bytes"
                )
            vm.vcpus, vm.memory_bytes = new_vcpus, new_memory
            return self._info(host, vm)

    def attach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Record the volume on the VM."""
        host = self._enter("attach_volume", name)
        with host.lock:
            vm = self._vm(host, name)
            if any((d.bus, d.device_id) == (volume.bus, volume.device_id) for d in vm.disks):
                raise DriverValueError(f"VM {name} already has a {volume.bus} disk at device_id {volume.device_id}")
            vm.disks = (*vm.disks, volume)

    def detach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Remove the volume at the same bus and device id."""
        host = self._enter("detach_volume", name)
        with host.lock:
            vm = self._vm(host, name)
            kept = tuple(d for d in vm.disks if (d.bus, d.device_id) != (volume.bus, volume.device_id))
            if len(kept) == len(vm.disks):
                raise VMNotFoundError(f"VM {name} has no {volume.bus} disk at device_id {volume.device_id}")
            vm.disks = kept

    def attach_nic(self, name: str, nic: NicSpec) -> None:
        """Record the NIC on the VM (running or not)."""
        host = self._enter("attach_nic", name)
        with host.lock:
            vm = self._vm(host, name)
            if any(n.mac == nic.mac for n in vm.nics):
                raise DriverValueError(f"VM {name} already has a NIC with MAC {nic.mac}")
            vm.nics = (*vm.nics, nic)

    def detach_nic(self, name: str, nic: NicSpec) -> None:
        """Remove the NIC with the same MAC."""
        host = self._enter("detach_nic", name)
        with host.lock:
            vm = self._vm(host, name)
            kept = tuple(n for n in vm.nics if n.mac != nic.mac)
            if len(kept) == len(vm.nics):
                raise VMNotFoundError(f"VM {name} on simulated host {host.url} has no NIC with MAC {nic.mac}")
            vm.nics = kept

    def attach_iso(self, name: str, iso: str) -> None:
        """Insert an ISO."""
        host = self._enter("attach_iso", name)
        with host.lock:
            self._vm(host, name).iso = iso

    def detach_iso(self, name: str) -> None:
        """Eject the ISO."""
        host = self._enter("detach_iso", name)
        with host.lock:
            self._vm(host, name).iso = None

    def ex_volumes(self, name: str) -> tuple[VolumeSpec, ...]:
        """The volumes the simulator has recorded for a VM."""
        with self.ex_host.lock:
            return self._vm(self.ex_host, name).disks

    def ex_nics(self, name: str) -> tuple[NicSpec, ...]:
        """The NICs the simulator has recorded for a VM."""
        with self.ex_host.lock:
            return self._vm(self.ex_host, name).nics

    def ex_iso(self, name: str) -> str | None:
        """The ISO in the VM's CD-ROM drive."""
        with self.ex_host.lock:
            return self._vm(self.ex_host, name).iso

    def ex_set_state(self, name: str, state: VMState) -> None:
        """Change a VM's state behind the driver's back (tests of reconciliation)."""
        with self.ex_host.lock:
            self._vm(self.ex_host, name).state = state

    def create_snapshot(self, name: str, snapshot: str, *, description: str = "") -> SnapshotInfo:
        """Record the VM's size and power state under ``snapshot``."""
        host = self._enter("create_snapshot", name)
        with host.lock:
            vm = self._vm(host, name)
            existing = vm.snapshots or []
            if any(s.name == snapshot for s, *_ in existing):
                raise VMExistsError(f"VM {name} already has a snapshot named {snapshot}")
            parent = next((s.name for s, *_ in existing if s.current), None)
            info = SnapshotInfo(snapshot, name, time.time(), parent, True, description)
            vm.snapshots = [(_not_current(s), c, m, st) for s, c, m, st in existing] + [
                (info, vm.vcpus, vm.memory_bytes, vm.state)
            ]
            return info

    def _snapshot_index(self, host: SimHost, vm: SimVM, snapshot: str) -> int:
        for index, (info, *_rest) in enumerate(vm.snapshots or []):
            if info.name == snapshot:
                return index
        raise VMNotFoundError(f"VM {vm.name} on {host.url} has no snapshot named {snapshot}")

    def revert_snapshot(self, name: str, snapshot: str) -> VMInfo:
        """Restore size and power state; the snapshot becomes the current one."""
        host = self._enter("revert_snapshot", name)
        with host.lock:
            vm = self._vm(host, name)
            index = self._snapshot_index(host, vm, snapshot)
            snaps = vm.snapshots or []
            _, vm.vcpus, vm.memory_bytes, vm.state = snaps[index]
            vm.snapshots = [
                (_not_current(s) if i != index else _current(s), c, m, st) for i, (s, c, m, st) in enumerate(snaps)
            ]
            return self._info(host, vm)

    def delete_snapshot(self, name: str, snapshot: str) -> None:
        """Delete a snapshot."""
        host = self._enter("delete_snapshot", name)
        with host.lock:
            vm = self._vm(host, name)
            index = self._snapshot_index(host, vm, snapshot)
            assert vm.snapshots is not None
            del vm.snapshots[index]

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """List snapshots, oldest first."""
        host = self._enter("list_snapshots", name)
        with host.lock:
            return [info for info, *_ in self._vm(host, name).snapshots or []]

    def console_address(self, name: str) -> ConsoleAddress:
        """A VNC address on the simulated host (nothing listens there)."""
        host = self._enter("console_address", name)
        with host.lock:
            self._vm(host, name)
        return ConsoleAddress("vnc", host=host.config.host, port=5900)


def _not_current(info: SnapshotInfo) -> SnapshotInfo:
    return dataclasses.replace(info, current=False) if info.current else info


def _current(info: SnapshotInfo) -> SnapshotInfo:
    return dataclasses.replace(info, current=True)
