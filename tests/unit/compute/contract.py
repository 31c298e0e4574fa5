"""The driver contract suite: one set of tests every compute driver passes.

A driver's test module subclasses :class:`DriverContract`, provides a ``driver`` fixture (connected,
on a fresh backend) and overrides the hooks and capability flags below. Capabilities default to what
the driver declares in ``features``; a backend that cannot exercise one (libvirt's ``test:///`` cannot
migrate) turns it off here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.types import (
    ConsoleAddress,
    Features,
    HostFacts,
    NicSpec,
    PowerState,
    SerialConsole,
    SnapshotInfo,
    VMInfo,
    VMSpec,
    VMState,
    VolumeSpec,
)
from provisioner.exceptions import DriverError, DriverSettingsError, VMExistsError, VMNotFoundError, VMStateError

MIB = 1 << 20

#: Optional verbs and the feature that makes each one mandatory.
OPTIONAL_VERBS: dict[str, Features] = {
    "migrate_vm": Features.MIGRATION,
    "scale_vm": Features.SCALE,
    "attach_volume": Features.VOLUME_ATTACH,
    "detach_volume": Features.VOLUME_ATTACH,
    "attach_nic": Features.NIC_ATTACH,
    "detach_nic": Features.NIC_ATTACH,
    "attach_iso": Features.ISO_ATTACH,
    "detach_iso": Features.ISO_ATTACH,
    "create_snapshot": Features.SNAPSHOTS,
    "revert_snapshot": Features.SNAPSHOTS,
    "delete_snapshot": Features.SNAPSHOTS,
    "list_snapshots": Features.SNAPSHOTS,
    "console_address": Features.CONSOLE,
}


class DriverContract:
    """Shared tests; subclasses supply the ``driver`` fixture and the hooks."""

    #: Capability flags the backend under test can exercise (None: follow the driver's features).
    supports_snapshots: bool | None = None
    supports_migration: bool | None = None
    supports_scale: bool | None = None
    supports_volumes: bool | None = None
    supports_iso: bool | None = None
    supports_console: bool | None = None
    supports_nics: bool | None = None
    #: NIC hot-plug into a running VM (libvirt's test:/// has no attachDeviceFlags).
    supports_live_nics: bool | None = None

    @pytest.fixture
    def driver(self) -> Iterator[HypervisorDriver]:
        raise NotImplementedError("a contract subclass must provide the driver fixture")

    # -- hooks ------------------------------------------------------------------------------------

    def make_spec(self, name: str, **overrides: object) -> VMSpec:
        """A small VM the backend accepts; drivers may add disks or consoles they need."""
        fields: dict[str, object] = {
            "name": name,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
            "vcpus": 1,
            "memory_bytes": 128 * MIB,
            "serial": SerialConsole("pty"),
        }
        fields.update(overrides)
        return VMSpec(**fields)  # type: ignore[arg-type]

    def stop_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        """Stop a running VM without telling the driver (the guest powered itself off)."""
        raise NotImplementedError

    def vanish_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        """Remove a VM without telling the driver (someone undefined it by hand)."""
        raise NotImplementedError

    def peer_driver(self, driver: HypervisorDriver) -> HypervisorDriver:
        """A connected driver for a second host migration can target."""
        raise NotImplementedError

    def _can(self, flag: bool | None, feature: Features, driver: HypervisorDriver) -> bool:
        return driver.supports(feature) if flag is None else flag

    def _need(self, flag: bool | None, feature: Features, driver: HypervisorDriver) -> None:
        if not self._can(flag, feature, driver):
            pytest.skip(f"{type(driver).__name__} on this backend does not support {feature.name}")

    # -- declarations -----------------------------------------------------------------------------

    def test_declares_name_features_and_state_map(self, driver: HypervisorDriver) -> None:
        assert driver.name and driver.hypervisor_type
        assert isinstance(driver.features, Features)
        assert all(isinstance(state, VMState) for state in driver.STATE_MAP.values())
        assert driver.map_state(object()) is VMState.UNKNOWN

    def test_unknown_setting_fails_at_construction(self, driver: HypervisorDriver) -> None:
        with pytest.raises(
            DriverSettingsError, match=f"invalid settings for the {driver.name} driver: no_such_setting"
        ):
            type(driver)(driver.uri, {"no_such_setting": 1})

    def test_optional_verbs_match_declared_features(self, driver: HypervisorDriver) -> None:
        for verb, feature in OPTIONAL_VERBS.items():
            overridden = getattr(type(driver), verb) is not getattr(HypervisorDriver, verb)
            assert overridden == (feature in driver.features), f"{verb} vs {feature.name}"

    def test_undeclared_verbs_raise_not_implemented_with_the_verb(self, driver: HypervisorDriver) -> None:
        missing = [verb for verb, feature in OPTIONAL_VERBS.items() if feature not in driver.features]
        for verb in missing:
            with pytest.raises(NotImplementedError, match=f"{verb} not implemented for this driver"):
                getattr(HypervisorDriver, verb)(driver, "vm", "x")

    # -- reading ----------------------------------------------------------------------------------

    def test_host_facts(self, driver: HypervisorDriver) -> None:
        facts = driver.host_facts()
        assert isinstance(facts, HostFacts)
        assert facts.cpu_sockets >= 1 and facts.cpu_cores >= facts.cpu_sockets
        assert facts.cpu_threads >= facts.cpu_cores
        assert facts.cpu_mhz > 0 and facts.memory_bytes > 0
        assert facts.hypervisor_type == driver.hypervisor_type and facts.hypervisor_version
        assert facts.total_cpu_mhz == facts.cpu_cores * facts.cpu_mhz

    def test_get_unknown_vm_raises_lookup_error(self, driver: HypervisorDriver) -> None:
        with pytest.raises(VMNotFoundError, match="nosuch") as caught:
            driver.get_vm("nosuch")
        assert isinstance(caught.value, LookupError) and isinstance(caught.value, DriverError)

    # -- lifecycle --------------------------------------------------------------------------------

    def test_define_reports_stopped(self, driver: HypervisorDriver) -> None:
        spec = self.make_spec("c-define")
        info = driver.define_vm(spec)
        assert isinstance(info, VMInfo)
        assert (info.name, info.uuid, info.state, info.power_state) == (
            spec.name,
            spec.uuid,
            VMState.STOPPED,
            PowerState.POWER_OFF,
        )
        assert (info.vcpus, info.memory_bytes) == (1, 128 * MIB)
        assert spec.name in {vm.name for vm in driver.list_vms()}
        assert driver.get_vm(spec.name) == info

    def test_define_twice_raises(self, driver: HypervisorDriver) -> None:
        driver.define_vm(self.make_spec("c-twice"))
        with pytest.raises(VMExistsError, match="c-twice"):
            driver.define_vm(self.make_spec("c-twice"))

    def test_start_stop_cycle_is_idempotent(self, driver: HypervisorDriver) -> None:
        driver.define_vm(self.make_spec("c-cycle"))
        assert driver.start_vm("c-cycle").state is VMState.RUNNING
        assert driver.start_vm("c-cycle").state is VMState.RUNNING
        assert driver.get_vm("c-cycle").power_state is PowerState.POWER_ON
        assert driver.stop_vm("c-cycle", timeout=5).state is VMState.STOPPED
        assert driver.stop_vm("c-cycle").state is VMState.STOPPED
        assert driver.start_vm("c-cycle").state is VMState.RUNNING
        assert driver.stop_vm("c-cycle", force=True).state is VMState.STOPPED

    def test_reboot(self, driver: HypervisorDriver) -> None:
        driver.define_vm(self.make_spec("c-reboot"))
        with pytest.raises(VMStateError, match="c-reboot"):
            driver.reboot_vm("c-reboot")
        driver.start_vm("c-reboot")
        assert driver.reboot_vm("c-reboot").state is VMState.RUNNING

    def test_destroy_running_vm(self, driver: HypervisorDriver) -> None:
        driver.define_vm(self.make_spec("c-destroy"))
        driver.start_vm("c-destroy")
        driver.destroy_vm("c-destroy")
        assert "c-destroy" not in {vm.name for vm in driver.list_vms()}
        with pytest.raises(VMNotFoundError):
            driver.destroy_vm("c-destroy")

    def test_verbs_on_unknown_vm_raise_lookup_error(self, driver: HypervisorDriver) -> None:
        for call in (driver.start_vm, driver.stop_vm, driver.reboot_vm, driver.destroy_vm):
            with pytest.raises(VMNotFoundError, match="ghost"):
                call("ghost")

    def test_poll_states_reports_stopped_and_vanished_vms(self, driver: HypervisorDriver) -> None:
        # Two running VMs at most: real TCG guests are expensive.
        for name in ("c-poll-a", "c-poll-b", "c-poll-c"):
            driver.define_vm(self.make_spec(name))
        driver.start_vm("c-poll-a")
        driver.start_vm("c-poll-b")
        known = {"c-poll-a": VMState.RUNNING, "c-poll-b": VMState.RUNNING, "c-poll-c": VMState.STOPPED}
        assert driver.poll_states(known) == []
        self.stop_behind_back(driver, "c-poll-a")
        self.vanish_behind_back(driver, "c-poll-b")
        changes = {change.name: change for change in driver.poll_states(known)}
        assert set(changes) == {"c-poll-a", "c-poll-b"}
        assert (changes["c-poll-a"].old, changes["c-poll-a"].new) == (VMState.RUNNING, VMState.STOPPED)
        assert changes["c-poll-b"].power_state is PowerState.POWER_REPORT_MISSING

    # -- optional verbs ---------------------------------------------------------------------------

    def test_snapshots(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_snapshots, Features.SNAPSHOTS, driver)
        driver.define_vm(self.make_spec("c-snap"))
        first = driver.create_snapshot("c-snap", "s1", description="before")
        assert isinstance(first, SnapshotInfo) and first.vm_name == "c-snap"
        driver.start_vm("c-snap")
        driver.create_snapshot("c-snap", "s2")
        names = [snap.name for snap in driver.list_snapshots("c-snap")]
        assert names == ["s1", "s2"]
        assert driver.revert_snapshot("c-snap", "s1").state is VMState.STOPPED
        assert [s.name for s in driver.list_snapshots("c-snap") if s.current] == ["s1"]
        driver.delete_snapshot("c-snap", "s2")
        assert [snap.name for snap in driver.list_snapshots("c-snap")] == ["s1"]
        with pytest.raises(VMNotFoundError, match="s9"):
            driver.revert_snapshot("c-snap", "s9")

    def test_scale_stopped_vm(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_scale, Features.SCALE, driver)
        driver.define_vm(self.make_spec("c-scale", max_vcpus=4, max_memory_bytes=512 * MIB))
        info = driver.scale_vm("c-scale", vcpus=2, memory_bytes=256 * MIB)
        assert (info.vcpus, info.memory_bytes) == (2, 256 * MIB)
        assert (driver.get_vm("c-scale").vcpus, driver.get_vm("c-scale").memory_bytes) == (2, 256 * MIB)

    def test_attach_and_detach_volume(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_volumes, Features.VOLUME_ATTACH, driver)
        driver.define_vm(self.make_spec("c-vol"))
        volume = VolumeSpec("/var/lib/provisioner/c-vol-data.qcow2", device_id=1)
        driver.attach_volume("c-vol", volume)
        driver.detach_volume("c-vol", volume)
        with pytest.raises(VMNotFoundError):
            driver.detach_volume("c-vol", volume)

    def test_attach_and_detach_nic(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_nics, Features.NIC_ATTACH, driver)
        driver.define_vm(self.make_spec("c-nic", nics=(NicSpec("02:00:00:00:0c:00", "cloudbr0"),)))
        nic = NicSpec("02:00:00:00:0c:01", "cloudbr0", device_id=1)
        driver.attach_nic("c-nic", nic)
        with pytest.raises(DriverError, match="02:00:00:00:0c:01"):
            driver.attach_nic("c-nic", nic)
        driver.detach_nic("c-nic", nic)
        with pytest.raises(VMNotFoundError, match="02:00:00:00:0c:01"):
            driver.detach_nic("c-nic", nic)
        driver.detach_nic("c-nic", NicSpec("02:00:00:00:0c:00", "cloudbr0"))
        with pytest.raises(VMNotFoundError):
            driver.attach_nic("c-no-such-vm", nic)

    def test_hot_plug_and_unplug_nic(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_nics, Features.NIC_ATTACH, driver)
        if not self._can(self.supports_live_nics, Features.NIC_ATTACH, driver):
            pytest.skip(f"{type(driver).__name__} on this backend cannot hot-plug NICs")
        driver.define_vm(self.make_spec("c-hotnic"))
        driver.start_vm("c-hotnic")
        nic = NicSpec("02:00:00:00:0c:02", self.live_nic_bridge, device_id=1)
        driver.attach_nic("c-hotnic", nic)
        assert driver.get_vm("c-hotnic").state is VMState.RUNNING
        driver.detach_nic("c-hotnic", nic)
        with pytest.raises(VMNotFoundError, match="02:00:00:00:0c:02"):
            driver.detach_nic("c-hotnic", nic)

    #: The host bridge a NIC is hot-plugged onto (it must exist where the backend is real).
    live_nic_bridge = "cloudbr0"

    def test_attach_and_detach_iso(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_iso, Features.ISO_ATTACH, driver)
        driver.define_vm(self.make_spec("c-iso"))
        driver.attach_iso("c-iso", "/var/lib/provisioner/tools.iso")
        driver.detach_iso("c-iso")

    def test_write_seed_only_while_stopped(self, driver: HypervisorDriver) -> None:
        self._need(None, Features.CLOUD_INIT, driver)
        spec = self.make_spec("c-seed")
        with pytest.raises(VMNotFoundError):
            driver.write_seed(spec)
        driver.define_vm(spec)
        driver.write_seed(spec)
        driver.start_vm("c-seed")
        with pytest.raises(VMStateError, match="c-seed"):
            driver.write_seed(spec)

    def test_console_address(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_console, Features.CONSOLE, driver)
        driver.define_vm(self.make_spec("c-console"))
        driver.start_vm("c-console")
        address = driver.console_address("c-console")
        assert isinstance(address, ConsoleAddress)
        assert address.protocol in ("vnc", "spice", "serial")
        assert address.port is not None or address.path is not None

    def test_migrate(self, driver: HypervisorDriver) -> None:
        self._need(self.supports_migration, Features.MIGRATION, driver)
        peer = self.peer_driver(driver)
        driver.define_vm(self.make_spec("c-migrate"))
        driver.start_vm("c-migrate")
        moved = driver.migrate_vm("c-migrate", peer)
        assert moved.state is VMState.RUNNING
        assert "c-migrate" not in {vm.name for vm in driver.list_vms()}
        assert peer.get_vm("c-migrate").state is VMState.RUNNING
