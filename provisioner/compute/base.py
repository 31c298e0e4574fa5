"""The hypervisor driver contract: one abstract base class every compute driver implements.

Verbs are noun-based (``start_vm``, ``attach_volume``). Mandatory verbs are abstract; optional ones
raise ``NotImplementedError("<verb> not implemented for this driver")`` unless the driver declares the
matching :class:`~provisioner.compute.types.Features` flag and overrides them. Backend-only calls are
``ex_*`` methods on the concrete driver.

Idempotence (the management server retries after crashes): ``start_vm`` on a running VM and
``stop_vm`` on a stopped one succeed without doing anything.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

import pydantic

from provisioner.compute.reconcile import diff_states
from provisioner.compute.types import (
    ConsoleAddress,
    Features,
    HostFacts,
    NicSpec,
    SnapshotInfo,
    VMInfo,
    VMSpec,
    VMState,
    VMStateChange,
    VolumeSpec,
)
from provisioner.drivers import StrictSettings, validate_settings


class DriverSettings(StrictSettings):
    """Base of every driver's settings; unknown keys are refused so a typo fails at start-up."""

    stop_timeout: float = pydantic.Field(
        60.0, gt=0, le=3600, description="Seconds a graceful stop may take before the VM is powered off."
    )


class HypervisorDriver(abc.ABC):
    """A connection to one hypervisor host (or endpoint) and the VM verbs on it.

    Subclasses set ``name``, ``hypervisor_type``, ``features``, ``STATE_MAP`` and ``settings_model``.
    Use as a context manager, or call :meth:`connect` and :meth:`close`.

    Args:
        uri: where the host is: ``qemu+ssh://root@host/system``, ``http://sim/c0/h0``, ...
        settings: driver settings, validated against ``settings_model`` right here.

    Raises:
        DriverSettingsError: a setting is unknown or invalid.
    """

    name: ClassVar[str] = "abstract"
    hypervisor_type: ClassVar[str] = "None"
    features: ClassVar[Features] = Features.NONE
    #: Backend state (whatever type the backend uses) to CloudStack state; unknown values map to UNKNOWN.
    STATE_MAP: ClassVar[Mapping[Any, VMState]] = {}
    settings_model: ClassVar[type[DriverSettings]] = DriverSettings

    def __init__(self, uri: str, settings: Mapping[str, Any] | DriverSettings | None = None) -> None:
        self.uri = uri
        self.settings: DriverSettings = self.validate_settings(settings)

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any] | DriverSettings | None) -> DriverSettings:
        """Validate raw settings against ``settings_model``.

        Raises:
            DriverSettingsError: naming the driver, each bad field and why.
        """
        return validate_settings(cls.settings_model, settings, f"{cls.name} driver")

    @classmethod
    def map_state(cls, raw: Any) -> VMState:
        """Translate a backend state into a CloudStack state, ``Unknown`` when unmapped."""
        return cls.STATE_MAP.get(raw, VMState.UNKNOWN)

    def supports(self, feature: Features) -> bool:
        """Tell whether this driver declares an optional ability."""
        return feature in self.features

    def _unsupported(self, verb: str) -> NotImplementedError:
        return NotImplementedError(f"{verb} not implemented for this driver ({self.name})")

    # -- connection -------------------------------------------------------------------------------

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection to the host.

        Raises:
            HostUnreachableError: the host does not answer.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; safe to call twice."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def host_facts(self) -> HostFacts:
        """Report the host's CPU, memory, hypervisor version and capabilities."""

    @abc.abstractmethod
    def list_vms(self) -> list[VMInfo]:
        """List every VM defined on the host, running or not."""

    @abc.abstractmethod
    def get_vm(self, name: str) -> VMInfo:
        """Report one VM.

        Raises:
            VMNotFoundError: no VM by that name.
        """

    def poll_states(self, known: Mapping[str, VMState]) -> list[VMStateChange]:
        """Compare the caller's view with the host's and report VMs that changed or vanished behind its back."""
        return diff_states(known, self.list_vms())

    def mounts(self, directory: str) -> bool:
        """Tell whether the host has shared storage mounted at ``directory``.

        The VM lifecycle asks about ``/mnt/<pool uuid>``, where CloudStack's KVM hosts mount an NFS
        primary pool: with a mount, the VM's disks there are files; without one they are network
        disks (``nfs://``) the hypervisor opens in user space. Drivers whose hosts do not reach pools
        through mounts answer True, so their disks stay paths.
        """
        return True

    # -- lifecycle --------------------------------------------------------------------------------

    @abc.abstractmethod
    def define_vm(self, spec: VMSpec) -> VMInfo:
        """Define (but do not start) a VM; prepares its overlay disks and cloud-init seed.

        Raises:
            VMExistsError: a VM with that name exists.
        """

    def write_seed(self, spec: VMSpec) -> None:
        """Write the cloud-init seed of ``spec`` again for a defined VM that is not running.

        The server calls it before starting a VM that is defined already, so that what changed while it
        was stopped (SSH keys, password, user data) reaches the guest at this boot; drivers with
        :attr:`Features.CLOUD_INIT` implement it.

        Raises:
            VMNotFoundError: no such VM.
            VMStateError: the VM is running.
        """
        raise self._unsupported("write_seed")

    @abc.abstractmethod
    def start_vm(self, name: str) -> VMInfo:
        """Power a VM on; does nothing when it is running."""

    @abc.abstractmethod
    def stop_vm(self, name: str, *, force: bool = False, timeout: float | None = None) -> VMInfo:
        """Power a VM off.

        Args:
            name: the VM.
            force: pull the plug at once instead of asking the guest to shut down.
            timeout: seconds a graceful shutdown may take before the plug is pulled anyway
                (CloudStack's behaviour); ``settings.stop_timeout`` when None.
        """

    @abc.abstractmethod
    def reboot_vm(self, name: str, *, force: bool = False) -> VMInfo:
        """Reboot a running VM; ``force`` resets it without asking the guest.

        Raises:
            VMStateError: the VM is not running.
        """

    @abc.abstractmethod
    def destroy_vm(self, name: str) -> None:
        """Power off if needed, undefine, and delete its overlay disks and seed.

        Raises:
            VMNotFoundError: no VM by that name.
        """

    # -- optional verbs ---------------------------------------------------------------------------

    def migrate_vm(self, name: str, target: HypervisorDriver | str, *, live: bool = True) -> VMInfo:
        """Move a VM to another host (a driver of the same kind, or its URI); returns it as seen there."""
        raise self._unsupported("migrate_vm")

    def scale_vm(self, name: str, *, vcpus: int | None = None, memory_bytes: int | None = None) -> VMInfo:
        """Change a VM's vCPUs and/or memory (live within its maxima, or while stopped)."""
        raise self._unsupported("scale_vm")

    def attach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Attach a volume to a VM (live when it runs)."""
        raise self._unsupported("attach_volume")

    def detach_volume(self, name: str, volume: VolumeSpec) -> None:
        """Detach a volume, found by its bus and device id."""
        raise self._unsupported("detach_volume")

    def attach_nic(self, name: str, nic: NicSpec) -> None:
        """Plug a NIC into a VM: hot-plugged when it runs (CloudStack's PlugNicCommand), else added to its
        definition for the next start; a VLAN NIC's bridge is made on the host first.

        Raises:
            VMNotFoundError: no such VM.
            DriverValueError: the VM has a NIC with that MAC already.
        """
        raise self._unsupported("attach_nic")

    def detach_nic(self, name: str, nic: NicSpec) -> None:
        """Unplug the NIC with ``nic.mac`` from a VM (live when it runs, CloudStack's UnPlugNicCommand).

        Raises:
            VMNotFoundError: no such VM, or it has no NIC with that MAC.
        """
        raise self._unsupported("detach_nic")

    def attach_iso(self, name: str, iso: str) -> None:
        """Insert an ISO into the VM's CD-ROM drive."""
        raise self._unsupported("attach_iso")

    def detach_iso(self, name: str) -> None:
        """Eject the ISO from the VM's CD-ROM drive."""
        raise self._unsupported("detach_iso")

    def create_snapshot(self, name: str, snapshot: str, *, description: str = "") -> SnapshotInfo:
        """Take a VM snapshot."""
        raise self._unsupported("create_snapshot")

    def revert_snapshot(self, name: str, snapshot: str) -> VMInfo:
        """Return a VM to a snapshot."""
        raise self._unsupported("revert_snapshot")

    def delete_snapshot(self, name: str, snapshot: str) -> None:
        """Delete a VM snapshot."""
        raise self._unsupported("delete_snapshot")

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """List a VM's snapshots, oldest first."""
        raise self._unsupported("list_snapshots")

    def console_address(self, name: str) -> ConsoleAddress:
        """Tell where the VM's console can be reached."""
        raise self._unsupported("console_address")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"
