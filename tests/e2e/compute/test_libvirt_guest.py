"""A real QEMU guest (TCG) through libvirtd and the libvirt driver: boot, user-data, stop, start, reboot, destroy."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from provisioner.compute.registry import get_driver
from provisioner.compute.types import (
    CloudInitSeed,
    DirectBoot,
    DiskBus,
    SerialConsole,
    VMSpec,
    VMState,
    VolumeSpec,
)
from tests.support.guest import BOOT_MARKER, KERNEL_CMDLINE, GuestImage, user_data_from_console, wait_for_console

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MIB = 1 << 20
USER_DATA = "#cloud-config\nruncmd:\n  - echo provisioner-e2e\n"


def test_tiny_guest_lifecycle(libvirtd: str, guest_image: GuestImage, tmp_path: Path) -> None:
    template = tmp_path / "template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(template), "64M"], check=True, timeout=60)
    console = tmp_path / "console.log"
    name = f"e2e-tiny-{uuid.uuid4().hex[:8]}"
    spec = VMSpec(
        name=name,
        uuid=str(uuid.uuid4()),
        vcpus=1,
        memory_bytes=128 * MIB,
        disks=(VolumeSpec(str(tmp_path / f"{name}-root.qcow2"), backing=str(template)),),
        direct_boot=DirectBoot(str(guest_image.kernel), str(guest_image.initrd), KERNEL_CMDLINE),
        serial=SerialConsole("file", str(console)),
        seed=CloudInitSeed(name, name, USER_DATA, ("ssh-ed25519 AAAAC3Nza e2e@provisioner",), bus=DiskBus.VIRTIO),
    )
    driver = get_driver("libvirt")(libvirtd, {"domain_type": "qemu", "stop_timeout": 3})
    with driver:
        try:
            assert driver.define_vm(spec).state is VMState.STOPPED
            assert Path(spec.disks[0].source).is_file()
            assert "type='qemu'" in driver.ex_domain_xml(name)  # type: ignore[attr-defined]

            assert driver.start_vm(name).state is VMState.RUNNING
            booted = wait_for_console(console, BOOT_MARKER)
            assert user_data_from_console(booted) == USER_DATA.rstrip("\n")
            assert driver.poll_states({name: VMState.RUNNING}) == []

            # The busybox guest ignores ACPI: the graceful stop falls back to power-off after stop_timeout.
            offset = console.stat().st_size
            assert driver.stop_vm(name).state is VMState.STOPPED
            assert driver.start_vm(name).state is VMState.RUNNING
            wait_for_console(console, BOOT_MARKER, offset=offset)

            offset = console.stat().st_size
            assert driver.reboot_vm(name, force=True).state is VMState.RUNNING
            wait_for_console(console, BOOT_MARKER, offset=offset)

            assert driver.stop_vm(name, force=True).state is VMState.STOPPED
        finally:
            if name in {vm.name for vm in driver.list_vms()}:
                driver.destroy_vm(name)
    assert not Path(spec.disks[0].source).exists()
    assert not (tmp_path / f"{name}-cidata.iso").exists()
