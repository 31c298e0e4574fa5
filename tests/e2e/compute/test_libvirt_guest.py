"""A real QEMU guest (TCG) through libvirtd and the libvirt driver: boot, user-data, stop, start, reboot, destroy."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.compute.registry import get_driver
from provisioner.compute.types import (
    BootDevice,
    CloudInitSeed,
    DirectBoot,
    DiskBus,
    SerialConsole,
    VMSpec,
    VMState,
    VMStateChange,
    VolumeSpec,
)
from tests.support.guest import (
    ACPI_SHUTDOWN,
    BOOT_MARKER,
    KERNEL_CMDLINE,
    POWEROFF_REQUEST,
    GuestImage,
    password_hash_from_console,
    user_data_from_console,
    wait_for_console,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MIB = 1 << 20
USER_DATA = "#cloud-config\nruncmd:\n  - echo provisioner-e2e\n"
#: A root password hash for the seed (``openssl passwd -6 -salt saltsalt``; the guest only prints it).
PASSWORD_HASH = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"


def tiny_spec(workdir: Path, template: Path, guest: GuestImage | None = None) -> VMSpec:
    """A tiny guest with a qcow2 overlay root disk, a file console and a NoCloud seed on virtio.

    With ``guest`` the kernel boots directly; without, the template disk must be bootable.
    """
    name = f"e2e-tiny-{uuid.uuid4().hex[:8]}"
    direct = DirectBoot(str(guest.direct_kernel), str(guest.initrd), KERNEL_CMDLINE) if guest else None
    return VMSpec(
        name=name,
        uuid=str(uuid.uuid4()),
        vcpus=1,
        memory_bytes=128 * MIB,
        disks=(VolumeSpec(str(workdir / f"{name}-root.qcow2"), backing=str(template)),),
        direct_boot=direct,
        boot_order=(BootDevice.HD,),
        serial=SerialConsole("file", str(workdir / "console.log")),
        seed=CloudInitSeed(
            name,
            name,
            USER_DATA,
            ("ssh-ed25519 AAAAC3Nza e2e@provisioner",),
            bus=DiskBus.VIRTIO,
            password_hash=PASSWORD_HASH,
        ),
    )


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A blank qcow2 "template": the guest boots from its kernel, the disk proves overlay handling."""
    path = tmp_path / "template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True, timeout=60)
    return path


def test_tiny_guest_lifecycle(libvirtd: str, guest_image: GuestImage, tmp_path: Path, template: Path) -> None:
    spec = tiny_spec(tmp_path, template, guest_image)
    name, console = spec.name, tmp_path / "console.log"
    driver = get_driver("libvirt")(libvirtd, {"domain_type": "qemu", "stop_timeout": 60})
    with driver:
        try:
            assert driver.define_vm(spec).state is VMState.STOPPED
            assert Path(spec.disks[0].source).is_file()
            assert "type='qemu'" in driver.ex_domain_xml(name)  # type: ignore[attr-defined]

            assert driver.start_vm(name).state is VMState.RUNNING
            booted = wait_for_console(console, BOOT_MARKER)
            assert user_data_from_console(booted) == USER_DATA.rstrip("\n")
            assert password_hash_from_console(booted) == PASSWORD_HASH
            assert driver.poll_states({name: VMState.RUNNING}) == []

            # A graceful reboot: the guest powers off over ACPI, libvirt starts it again.
            offset = console.stat().st_size
            assert driver.reboot_vm(name).state is VMState.RUNNING
            assert ACPI_SHUTDOWN in wait_for_console(console, BOOT_MARKER, offset=offset)
            assert driver.get_vm(name).state is VMState.RUNNING

            offset = console.stat().st_size
            assert driver.reboot_vm(name, force=True).state is VMState.RUNNING
            wait_for_console(console, BOOT_MARKER, offset=offset)

            # The guest powers off on the ACPI power button: a graceful stop does not wait out stop_timeout.
            offset = console.stat().st_size
            began = time.monotonic()
            assert driver.stop_vm(name).state is VMState.STOPPED
            assert time.monotonic() - began < 30
            assert ACPI_SHUTDOWN in wait_for_console(console, ACPI_SHUTDOWN, offset=offset, timeout=5)

            # Started again and powered off at once: a forced stop needs no booted guest, so none is waited for (the
            # reboots above saw the guest boot again on this domain).
            assert driver.start_vm(name).state is VMState.RUNNING
            assert driver.stop_vm(name, force=True).state is VMState.STOPPED
        finally:
            if name in {vm.name for vm in driver.list_vms()}:
                driver.destroy_vm(name)
    assert not Path(spec.disks[0].source).exists()
    assert not (tmp_path / f"{name}-cidata.iso").exists()


@pytest.fixture
def dir_pool(libvirtd: str, tmp_path: Path) -> Iterator[Path]:
    """A transient dir pool on ``tmp_path``, as the hypervisor_host role defines them on real hosts."""
    conn = libvirt.open(libvirtd)
    xml = f"<pool type='dir'><name>e2e-{uuid.uuid4().hex[:8]}</name><target><path>{tmp_path}</path></target></pool>"
    pool = conn.storagePoolCreateXML(xml, 0)
    try:
        yield tmp_path
    finally:
        pool.destroy()
        conn.close()


def test_template_boot_through_storage_pools(libvirtd: str, guest_template: Path, dir_pool: Path) -> None:
    """Deploy as CloudStack does, as a remote (qemu+ssh://) host gets it: a qcow2 overlay on a bootable
    template and the seed, both made through libvirt's storage API; the guest boots from its disk."""
    template = dir_pool / "template.qcow2"
    shutil.copy(guest_template, template)
    spec = tiny_spec(dir_pool, template)
    with LibvirtDriver(libvirtd, {"domain_type": "qemu", "file_access": "pool"}) as driver:
        try:
            driver.define_vm(spec)
            root = subprocess.run(
                ["qemu-img", "info", spec.disks[0].source], capture_output=True, text=True, check=True, timeout=60
            ).stdout
            assert f"backing file: {template}" in root
            driver.start_vm(spec.name)
            booted = wait_for_console(dir_pool / "console.log", BOOT_MARKER)
            assert user_data_from_console(booted) == USER_DATA.rstrip("\n")
        finally:
            driver.destroy_vm(spec.name)
    assert not Path(spec.disks[0].source).exists()
    assert not (dir_pool / f"{spec.name}-cidata.iso").exists()


def test_a_guest_that_powers_itself_off_is_noticed(
    libvirtd: str, guest_image: GuestImage, tmp_path: Path, template: Path
) -> None:
    """Lifecycle events and poll_states both report a VM that stopped behind the server's back."""
    spec = dataclasses.replace(
        tiny_spec(tmp_path, template, guest_image),
        seed=CloudInitSeed("off", "off", f"#cloud-config\n# {POWEROFF_REQUEST}\n", bus=DiskBus.VIRTIO),
    )
    stopped = threading.Event()

    def on_change(change: VMStateChange) -> None:
        if change.name == spec.name and change.new is VMState.STOPPED:
            stopped.set()

    with LibvirtDriver(libvirtd, {"domain_type": "qemu", "events": True}) as driver:
        try:
            driver.define_vm(spec)
            driver.ex_watch(on_change)
            driver.start_vm(spec.name)
            wait_for_console(tmp_path / "console.log", BOOT_MARKER)
            assert stopped.wait(timeout=60), "no lifecycle event for the guest's own power-off"
            changes = driver.poll_states({spec.name: VMState.RUNNING})
            assert [(c.name, c.old, c.new) for c in changes] == [(spec.name, VMState.RUNNING, VMState.STOPPED)]
        finally:
            driver.destroy_vm(spec.name)
