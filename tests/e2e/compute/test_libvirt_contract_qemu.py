"""The driver contract against a real libvirtd with QEMU in TCG mode (``domain_type=qemu``).

The VMs have a qcow2 root disk on a blank template and no bootable system: SeaBIOS idles, which is
all the lifecycle verbs need and costs far less than booting a kernel.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.compute.types import VMSpec, VolumeSpec
from tests.unit.compute.contract import DriverContract

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


class TestLibvirtQemuContract(DriverContract):
    # One host only here: migration needs a second libvirtd.
    supports_migration = False

    @pytest.fixture
    def driver(self, libvirtd: str, tmp_path: Path) -> Iterator[HypervisorDriver]:
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
