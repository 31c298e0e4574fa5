"""The libvirt driver against libvirt's in-process ``test:///`` driver, one fresh node file per test."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.compute.types import (
    CloudInitSeed,
    DiskBus,
    SerialConsole,
    VMState,
    VMStateChange,
    VolumeSpec,
)
from provisioner.exceptions import (
    DriverError,
    DriverSettingsError,
    DriverValueError,
    HostUnreachableError,
    VMStateError,
)
from tests.unit.compute.contract import MIB, DriverContract

NODE = Path(__file__).parents[2] / "fixtures" / "compute" / "libvirt" / "node.xml"


def node_uri(tmp_path: Path) -> str:
    """A test:/// URI on a private copy of the node file: every open starts from it afresh."""
    node = tmp_path / "node.xml"
    shutil.copy(NODE, node)
    return f"test://{node.resolve()}"


class TestLibvirtContract(DriverContract):
    # The test driver keeps one host per connection: there is nowhere to migrate to.
    supports_migration = False
    # The test driver has no attachDeviceFlags: NICs go into a stopped domain's definition only.
    supports_live_nics = False

    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[HypervisorDriver]:
        with LibvirtDriver(node_uri(tmp_path)) as driver:
            yield driver

    def stop_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, LibvirtDriver)
        driver.ex_connection.lookupByName(name).destroy()

    def vanish_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, LibvirtDriver)
        dom = driver.ex_connection.lookupByName(name)
        dom.destroy()
        dom.undefine()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LibvirtDriver]:
    with LibvirtDriver(node_uri(tmp_path)) as driver:
        yield driver


def spec(name: str, **overrides: object):  # type: ignore[no-untyped-def]
    return DriverContract().make_spec(name, **overrides)


def test_host_facts_from_the_node_file(driver: LibvirtDriver) -> None:
    facts = driver.host_facts()
    assert (facts.cpu_sockets, facts.cpu_cores, facts.cpu_threads, facts.cpu_mhz) == (2, 8, 16, 2400)
    assert facts.memory_bytes == 32 << 30
    assert "test" in facts.capabilities and facts.hypervisor_type == "KVM"


def test_bad_settings_and_uris_fail_at_construction() -> None:
    with pytest.raises(
        DriverSettingsError, match=r"libvirt driver: domain_type: Input should be 'auto', 'kvm' or 'qemu'"
    ):
        LibvirtDriver("qemu:///system", {"domain_type": "xen"})
    with pytest.raises(DriverValueError, match=r"must start with one of qemu://"):
        LibvirtDriver("xen:///system")


def test_unreachable_host_names_the_uri(tmp_path: Path) -> None:
    driver = LibvirtDriver(f"test://{tmp_path}/missing.xml")
    with pytest.raises(HostUnreachableError, match=r"missing\.xml"):
        driver.connect()


def test_scale_stopped_vm_beyond_its_maximum(driver: LibvirtDriver) -> None:
    driver.define_vm(spec("vm-scale"))
    info = driver.scale_vm("vm-scale", vcpus=4, memory_bytes=1024 * MIB)
    assert (info.vcpus, info.memory_bytes) == (4, 1024 * MIB)


def test_scale_running_vm_within_its_maximum(driver: LibvirtDriver) -> None:
    driver.define_vm(spec("vm-live", max_vcpus=4, max_memory_bytes=512 * MIB))
    driver.start_vm("vm-live")
    info = driver.scale_vm("vm-live", vcpus=3, memory_bytes=256 * MIB)
    assert (info.vcpus, info.memory_bytes, info.state) == (3, 256 * MIB, VMState.RUNNING)


def test_volume_and_iso_reach_the_domain_xml(driver: LibvirtDriver) -> None:
    driver.define_vm(spec("vm-dev"))
    driver.attach_volume("vm-dev", VolumeSpec("nfs://nfs.example/export/primary/data-1.qcow2", device_id=1))
    driver.attach_iso("vm-dev", "/isos/tools.iso")
    xml = driver.ex_domain_xml("vm-dev", inactive=True)
    assert "protocol='nfs' name='/export/primary/data-1.qcow2'" in xml and "/isos/tools.iso" in xml
    with pytest.raises(DriverValueError, match="already has a disk at vdb"):
        driver.attach_volume("vm-dev", VolumeSpec("/d/other.qcow2", device_id=1))
    driver.detach_iso("vm-dev")
    assert "/isos/tools.iso" not in driver.ex_domain_xml("vm-dev", inactive=True)


def test_serial_console_to_a_file(driver: LibvirtDriver, tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    driver.define_vm(spec("vm-con", serial=SerialConsole("file", str(log))))
    driver.start_vm("vm-con")
    address = driver.console_address("vm-con")
    assert (address.protocol, address.path) == ("serial", str(log))


def test_seed_is_built_recorded_and_deleted_with_the_vm(driver: LibvirtDriver, tmp_path: Path) -> None:
    if shutil.which("genisoimage") is None:
        pytest.skip("genisoimage is not installed")
    seed = CloudInitSeed("iid-1", "web-1", "#cloud-config\n", ("ssh-ed25519 AAAA test",))
    root = VolumeSpec(str(tmp_path / "root.qcow2"))
    driver.define_vm(spec("vm-seed", seed=seed, disks=(root,)))
    iso = tmp_path / "vm-seed-cidata.iso"
    assert iso.is_file() and b"CIDATA" in iso.read_bytes()[32768:40960].upper()
    assert str(iso) in driver.ex_domain_xml("vm-seed")
    driver.destroy_vm("vm-seed")
    assert not iso.exists()


def test_lifecycle_events_and_reconcile(tmp_path: Path) -> None:
    received: list[VMStateChange] = []
    done = threading.Event()

    def on_change(change: VMStateChange) -> None:
        received.append(change)
        if change.new is VMState.STOPPED and len(received) >= 3:
            done.set()

    with LibvirtDriver(node_uri(tmp_path), {"events": True}) as driver:
        driver.ex_watch(on_change)
        driver.define_vm(spec("vm-ev"))
        driver.start_vm("vm-ev")
        driver.stop_vm("vm-ev", force=True)
        assert done.wait(timeout=10), received
    assert [change.new for change in received[:3]] == [VMState.STOPPED, VMState.RUNNING, VMState.STOPPED]
    assert all(change.name == "vm-ev" for change in received)


def test_a_spec_that_cannot_render_leaves_no_seed_behind(driver: LibvirtDriver, tmp_path: Path) -> None:
    if shutil.which("genisoimage") is None:
        pytest.skip("genisoimage is not installed")
    clash = (VolumeSpec(str(tmp_path / "a.qcow2")), VolumeSpec(str(tmp_path / "b.qcow2"), device_id=25))
    seed = CloudInitSeed("iid", "host", bus=DiskBus.VIRTIO)
    with pytest.raises(DriverValueError, match="vdz"):
        driver.define_vm(spec("vm-clash", seed=seed, disks=clash))
    assert not (tmp_path / "vm-clash-cidata.iso").exists()


def test_migration_errors_name_the_vm(driver: LibvirtDriver, tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    driver.define_vm(spec("vm-move"))
    with pytest.raises(VMStateError, match=r"vm-move .* not running"):
        driver.migrate_vm("vm-move", "qemu+ssh://elsewhere/system")
    driver.start_vm("vm-move")
    # The test driver cannot migrate: the libvirt error comes back as a DriverError naming the VM.
    with LibvirtDriver(node_uri(other_dir)) as target, pytest.raises(DriverError, match="migrating VM vm-move failed"):
        driver.migrate_vm("vm-move", target)
    assert driver.get_vm("vm-move").state is VMState.RUNNING
