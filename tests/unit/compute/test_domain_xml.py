"""VMSpec to domain XML, checked against golden files (``UPDATE_GOLDEN=1`` rewrites them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt.domain_xml import (
    RenderOptions,
    console_from_xml,
    owned_files,
    render_domain,
)
from provisioner.compute.types import (
    BootDevice,
    CloudInitSeed,
    DirectBoot,
    DiskBus,
    DiskFormat,
    NicSpec,
    SerialConsole,
    VMSpec,
    VolumeSpec,
)
from provisioner.exceptions import DriverValueError

GOLDEN = Path(__file__).parents[2] / "fixtures" / "compute" / "domain_xml"
MIB = 1 << 20
UUID = "5f0b3a52-4c3e-4b8e-9a51-0c1f4a7d2e10"

CASES: dict[str, tuple[VMSpec, RenderOptions]] = {
    "minimal_kvm": (
        VMSpec(name="i-2-10-VM", uuid=UUID, vcpus=1, memory_bytes=512 * MIB),
        RenderOptions(domain_type="kvm"),
    ),
    "full_kvm": (
        VMSpec(
            name="i-2-11-VM",
            uuid=UUID,
            display_name="web-1",
            vcpus=2,
            cpu_mhz=2000,
            memory_bytes=2048 * MIB,
            max_vcpus=8,
            max_memory_bytes=8192 * MIB,
            disks=(
                VolumeSpec(
                    "/mnt/primary/0c1f-root.qcow2",
                    backing="/mnt/primary/tmpl-201.qcow2",
                    size_bytes=20 << 30,
                    volume_uuid="0c1f4a7d-2e10-4b8e-9a51-5f0b3a524c3e",
                ),
                VolumeSpec("nfs://nfs.example/export/primary/data-1.qcow2", device_id=1),
                VolumeSpec(
                    "iscsi://198.18.0.20/iqn.2026-01.dev.provisioner:store/1", device_id=2, format=DiskFormat.RAW
                ),
            ),
            nics=(
                NicSpec("02:00:4c:3e:00:01", "cloudbr0", vlan=100),
                NicSpec("02:00:4c:3e:00:02", "cloudbr1", device_id=1),
            ),
            serial=SerialConsole("file", "/var/log/provisioner/i-2-11-VM.console"),
            boot_order=(BootDevice.CDROM, BootDevice.HD),
            iso="/mnt/secondary/iso/tools.iso",
            seed=CloudInitSeed("i-2-11-VM", "web-1", "#cloud-config\n"),
        ),
        RenderOptions(
            domain_type="kvm",
            machine="q35",
            seed_path="/mnt/primary/i-2-11-VM-cidata.iso",
            owned_files=("/mnt/primary/0c1f-root.qcow2", "/mnt/primary/i-2-11-VM-cidata.iso"),
            vnc_listen="0.0.0.0",
        ),
    ),
    "tcg_direct_boot": (
        VMSpec(
            name="tiny",
            uuid=UUID,
            vcpus=1,
            memory_bytes=128 * MIB,
            direct_boot=DirectBoot("/work/guest/vmlinuz", "/work/guest/initramfs.gz", "console=ttyS0 panic=-1"),
            serial=SerialConsole("file", "/work/guest/console.log"),
            seed=CloudInitSeed("tiny", "tiny", "hello", bus=DiskBus.VIRTIO),
        ),
        RenderOptions(domain_type="qemu", seed_path="/work/guest/tiny-cidata.iso"),
    ),
    "ovs_vlan": (
        VMSpec(
            name="i-2-12-VM",
            uuid=UUID,
            vcpus=1,
            memory_bytes=256 * MIB,
            nics=(NicSpec("02:00:4c:3e:00:03", "br-int", vlan=42),),
        ),
        RenderOptions(domain_type="kvm", vlan_mode="openvswitch"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    spec, options = CASES[case]
    rendered = render_domain(spec, options)
    golden = GOLDEN / f"{case}.xml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
    assert rendered == golden.read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files_satisfy_libvirts_schema(case: str) -> None:
    tool = shutil.which("virt-xml-validate")
    if tool is None:
        pytest.skip("virt-xml-validate is not installed (apt package libvirt-clients)")
    result = subprocess.run([tool, str(GOLDEN / f"{case}.xml"), "domain"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_metadata_and_console_read_back() -> None:
    spec, options = CASES["full_kvm"]
    xml = render_domain(spec, options)
    assert owned_files(xml) == list(options.owned_files)
    console = console_from_xml(xml)
    assert console is not None and (console.protocol, console.path) == (
        "serial",
        "/var/log/provisioner/i-2-11-VM.console",
    )


def test_two_devices_on_one_target_are_refused() -> None:
    spec = VMSpec(
        name="clash",
        uuid=UUID,
        vcpus=1,
        memory_bytes=128 * MIB,
        disks=(VolumeSpec("/d/a.qcow2", device_id=2, bus=DiskBus.SATA),),
    )
    with pytest.raises(DriverValueError, match="two devices would both be sdc"):
        render_domain(spec, RenderOptions())


@pytest.mark.parametrize(
    ("source", "message"),
    [("nfs:///nohost", "needs a host and a path"), ("nfs://nfs.example:2049/export/d.qcow2", "NFS disks take no port")],
)
def test_bad_network_disk_url(source: str, message: str) -> None:
    spec = VMSpec(name="x", uuid=UUID, vcpus=1, memory_bytes=128 * MIB, disks=(VolumeSpec(source),))
    with pytest.raises(DriverValueError, match=message):
        render_domain(spec, RenderOptions())
