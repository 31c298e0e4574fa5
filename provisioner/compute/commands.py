"""Hypervisor work as typed Command → Answer messages, one small handler per command.

The management server's jobs build a command (a frozen dataclass, easy to log and to store with the
job) and call :func:`execute` with the host's driver. The handler calls one driver verb; every
``DriverError`` becomes a failed :class:`Answer` carrying the error, as CloudStack agents answer
``Answer(result=false, details=...)``, so a job decides what to do from data rather than from
exception handling spread through the services. Names follow CloudStack's agent commands, which
is also what the simulator's ``configureSimulator`` faults refer to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.types import (
    ConsoleAddress,
    HostFacts,
    NicSpec,
    SnapshotInfo,
    VMInfo,
    VMSpec,
    VMState,
    VMStateChange,
    VolumeSpec,
)
from provisioner.exceptions import DriverError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """The outcome of one command: ``result`` when it worked, ``error`` when it did not."""

    command: str
    ok: bool
    result: T | None = None
    error: DriverError | None = None

    @property
    def details(self) -> str:
        """CloudStack's answer details: the error message, or empty."""
        return str(self.error) if self.error else ""


@dataclass(frozen=True, slots=True)
class Command(Generic[T]):
    """Base of every command; ``T`` is the type of the answer's result."""


@dataclass(frozen=True, slots=True)
class ReadyCommand(Command[HostFacts]):
    """Ask a host for its facts (CloudStack sends ReadyCommand when a host connects)."""


@dataclass(frozen=True, slots=True)
class CheckStateCommand(Command[list[VMStateChange]]):
    """Compare the server's view of the host's VMs with the host's (the periodic ping)."""

    known: Mapping[str, VMState]


@dataclass(frozen=True, slots=True)
class StartCommand(Command[VMInfo]):
    """Define the VM when it is not yet, then start it."""

    spec: VMSpec


@dataclass(frozen=True, slots=True)
class StopCommand(Command[VMInfo]):
    """Stop a VM, gracefully unless ``force``."""

    name: str
    force: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RebootCommand(Command[VMInfo]):
    """Reboot a running VM."""

    name: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class DestroyCommand(Command[None]):
    """Remove a VM from the host with the files its driver created."""

    name: str


@dataclass(frozen=True, slots=True)
class MigrateCommand(Command[VMInfo]):
    """Move a VM to another host of the same hypervisor type."""

    name: str
    target: HypervisorDriver | str
    live: bool = True


@dataclass(frozen=True, slots=True)
class ScaleVmCommand(Command[VMInfo]):
    """Change a VM's vCPUs and/or memory."""

    name: str
    vcpus: int | None = None
    memory_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class AttachCommand(Command[None]):
    """Attach a volume (``volume``) or insert an ISO (``iso``)."""

    name: str
    volume: VolumeSpec | None = None
    iso: str | None = None


@dataclass(frozen=True, slots=True)
class DettachCommand(Command[None]):
    """Detach a volume, or eject the ISO when ``volume`` is None (CloudStack's spelling)."""

    name: str
    volume: VolumeSpec | None = None


@dataclass(frozen=True, slots=True)
class PlugNicCommand(Command[None]):
    """Plug a NIC into a VM (hot-plugged when it runs)."""

    name: str
    nic: NicSpec


@dataclass(frozen=True, slots=True)
class UnPlugNicCommand(Command[None]):
    """Unplug the NIC with ``nic.mac`` from a VM."""

    name: str
    nic: NicSpec


@dataclass(frozen=True, slots=True)
class CreateVMSnapshotCommand(Command[SnapshotInfo]):
    """Take a VM snapshot."""

    name: str
    snapshot: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class RevertToVMSnapshotCommand(Command[VMInfo]):
    """Revert a VM to a snapshot."""

    name: str
    snapshot: str


@dataclass(frozen=True, slots=True)
class DeleteVMSnapshotCommand(Command[None]):
    """Delete a VM snapshot."""

    name: str
    snapshot: str


@dataclass(frozen=True, slots=True)
class GetVncPortCommand(Command[ConsoleAddress]):
    """Find the VM's console."""

    name: str


def _start(driver: HypervisorDriver, command: StartCommand) -> VMInfo:
    if command.spec.name not in {vm.name for vm in driver.list_vms()}:
        driver.define_vm(command.spec)
    return driver.start_vm(command.spec.name)


def _attach(driver: HypervisorDriver, command: AttachCommand) -> None:
    if command.volume is not None:
        driver.attach_volume(command.name, command.volume)
    if command.iso is not None:
        driver.attach_iso(command.name, command.iso)


def _detach(driver: HypervisorDriver, command: DettachCommand) -> None:
    if command.volume is None:
        driver.detach_iso(command.name)
    else:
        driver.detach_volume(command.name, command.volume)


_HANDLERS: dict[type[Any], Callable[[HypervisorDriver, Any], Any]] = {
    ReadyCommand: lambda d, c: d.host_facts(),
    CheckStateCommand: lambda d, c: d.poll_states(c.known),
    StartCommand: _start,
    StopCommand: lambda d, c: d.stop_vm(c.name, force=c.force, timeout=c.timeout),
    RebootCommand: lambda d, c: d.reboot_vm(c.name, force=c.force),
    DestroyCommand: lambda d, c: d.destroy_vm(c.name),
    MigrateCommand: lambda d, c: d.migrate_vm(c.name, c.target, live=c.live),
    ScaleVmCommand: lambda d, c: d.scale_vm(c.name, vcpus=c.vcpus, memory_bytes=c.memory_bytes),
    AttachCommand: _attach,
    DettachCommand: _detach,
    PlugNicCommand: lambda d, c: d.attach_nic(c.name, c.nic),
    UnPlugNicCommand: lambda d, c: d.detach_nic(c.name, c.nic),
    CreateVMSnapshotCommand: lambda d, c: d.create_snapshot(c.name, c.snapshot, description=c.description),
    RevertToVMSnapshotCommand: lambda d, c: d.revert_snapshot(c.name, c.snapshot),
    DeleteVMSnapshotCommand: lambda d, c: d.delete_snapshot(c.name, c.snapshot),
    GetVncPortCommand: lambda d, c: d.console_address(c.name),
}

#: Command name to the driver verb it calls (the simulator's ``configureSimulator`` speaks both).
COMMAND_VERBS: Mapping[str, str] = {
    "ReadyCommand": "host_facts",
    "CheckStateCommand": "list_vms",
    "StartCommand": "start_vm",
    "StopCommand": "stop_vm",
    "RebootCommand": "reboot_vm",
    "DestroyCommand": "destroy_vm",
    "MigrateCommand": "migrate_vm",
    "ScaleVmCommand": "scale_vm",
    "AttachCommand": "attach_volume",
    "DettachCommand": "detach_volume",
    "PlugNicCommand": "attach_nic",
    "UnPlugNicCommand": "detach_nic",
    "CreateVMSnapshotCommand": "create_snapshot",
    "RevertToVMSnapshotCommand": "revert_snapshot",
    "DeleteVMSnapshotCommand": "delete_snapshot",
    "GetVncPortCommand": "console_address",
}


def execute(driver: HypervisorDriver, command: Command[T]) -> Answer[T]:
    """Run one command on a connected driver and answer it; driver errors become failed answers.

    Raises:
        NotImplementedError: the driver lacks the verb (a programming error, not an answer).
        TypeError: no handler is registered for the command's type.
    """
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"no handler for {type(command).__name__}")
    name = type(command).__name__
    try:
        return Answer(name, True, handler(driver, command))
    except DriverError as error:
        return Answer(name, False, error=error)
