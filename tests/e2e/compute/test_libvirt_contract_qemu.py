"""The driver contract against a real libvirtd with QEMU in TCG mode (``domain_type=qemu``).

The VMs have a qcow2 root disk on a blank template and no bootable system: SeaBIOS idles, which is
all the lifecycle verbs need and costs far less than booting a kernel.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.libvirt import LibvirtDriver, domain_xml
from provisioner.compute.types import NicSpec, VMSpec, VolumeSpec
from tests.support.bridges import isolated_bridge
from tests.unit.compute.contract import DriverContract

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


class TestLibvirtQemuContract(DriverContract):
    # One host only here: migration needs a second libvirtd.
    supports_migration = False

    #: An isolated bridge of this suite's own (made per test): NICs are hot-plugged onto it.
    live_nic_bridge = "e2econtractbr"

    @pytest.fixture
    def driver(self, libvirtd: str, tmp_path: Path) -> Iterator[HypervisorDriver]:
        with isolated_bridge(self.live_nic_bridge):
            yield from self._driver(libvirtd, tmp_path)

    def _driver(self, libvirtd: str, tmp_path: Path) -> Iterator[HypervisorDriver]:
        self.workdir = tmp_path
        self.template = tmp_path / "template.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.template), "16M"], check=True, timeout=60)
        with LibvirtDriver(libvirtd, {"domain_type": "qemu", "stop_timeout": 3}) as driver:
            before = {vm.name for vm in driver.list_vms()}
            try:
                yield driver
            finally:
                for vm in driver.list_vms():
                    if vm.name not in before:
                        driver.destroy_vm(vm.name)

    def make_spec(self, name: str, **overrides: object) -> VMSpec:
        root = VolumeSpec(str(self.workdir / f"{name}-root.qcow2"), backing=str(self.template))
        return super().make_spec(name, **({"disks": (root,)} | overrides))

    def stop_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, LibvirtDriver)
        driver.ex_connection.lookupByName(name).destroy()

    def vanish_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, LibvirtDriver)
        dom = driver.ex_connection.lookupByName(name)
        dom.destroy()
        dom.undefine()


def test_hot_plug_a_volume_and_change_the_iso(libvirtd: str, tmp_path: Path) -> None:
    template = tmp_path / "template.qcow2"
    data = tmp_path / "data.qcow2"
    for image in (template, data):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True, timeout=60)
    iso = tmp_path / "tools.iso"
    iso.write_bytes(b"\0" * 2048 * 32)
    spec = DriverContract().make_spec(
        "c-hotplug", disks=(VolumeSpec(str(tmp_path / "root.qcow2"), backing=str(template)),)
    )
    with LibvirtDriver(libvirtd, {"domain_type": "qemu"}) as driver:
        driver.define_vm(spec)
        try:
            driver.start_vm("c-hotplug")
            driver.attach_volume("c-hotplug", VolumeSpec(str(data), device_id=1))
            assert str(data) in driver.ex_domain_xml("c-hotplug")
            driver.attach_iso("c-hotplug", str(iso))
            assert str(iso) in driver.ex_domain_xml("c-hotplug")
            driver.detach_iso("c-hotplug")
            assert str(iso) not in driver.ex_domain_xml("c-hotplug")
        finally:
            driver.destroy_vm("c-hotplug")


def test_a_hot_plugged_nic_has_its_tap_on_the_bridge(libvirtd: str, tmp_path: Path) -> None:
    template = tmp_path / "template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(template), "16M"], check=True, timeout=60)
    spec = DriverContract().make_spec(
        "c-hotnic-tap", disks=(VolumeSpec(str(tmp_path / "root.qcow2"), backing=str(template)),)
    )
    nic = NicSpec("02:00:00:00:0c:10", "e2enicbr", device_id=1)
    with isolated_bridge("e2enicbr"), LibvirtDriver(libvirtd, {"domain_type": "qemu", "stop_timeout": 3}) as driver:
        driver.define_vm(spec)
        try:
            driver.start_vm(spec.name)
            driver.attach_nic(spec.name, nic)
            live = ET.fromstring(driver.ex_domain_xml(spec.name))
            interface = domain_xml.find_interface(live.find("devices"), nic.mac)  # type: ignore[arg-type]
            assert interface is not None and domain_xml.interface_bridge(interface) == "e2enicbr"
            tap = interface.find("target")
            assert tap is not None and (Path("/sys/class/net/e2enicbr/brif") / tap.get("dev", "?")).exists()
            assert nic.mac in driver.ex_domain_xml(spec.name, inactive=True)  # the next start has it too
        finally:
            driver.destroy_vm(spec.name)
