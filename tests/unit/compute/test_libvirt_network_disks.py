"""The libvirt driver's view of network primary storage: which NFS pools it mounts, VMs whose disks are
``nfs://`` and ``iscsi://`` network disks (root included), and iSCSI LUNs as the block devices of the host's
kernel sessions (``iscsi_access``; this machine cannot log in, so that is checked at the XML level), against
libvirt's ``test:///`` driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver, iscsi
from provisioner.compute.drivers.libvirt.disks import active_pool_at
from provisioner.compute.types import CloudInitSeed, DiskFormat, SourceKind, VMSpec, VolumeSpec
from provisioner.exceptions import DriverError, DriverValueError
from tests.unit.compute.test_libvirt_contract import node_uri

MIB = 1 << 20
ROOT = "nfs://127.0.0.1/srv/primary/0c1f4a7d-2e10-4b8e-9a51-5f0b3a524c3e"
LUN = "iscsi://127.0.0.1:3261/iqn.2026-01.test.local:primary1/7"


@pytest.mark.parametrize(("setting", "mounted"), [("mount", True), ("userspace", False)])
def test_nfs_access_set_on_the_host_decides(setting: str, mounted: bool) -> None:
    driver = LibvirtDriver("qemu+ssh://root@198.18.0.11/system", {"nfs_access": setting})
    assert driver.mounts("/mnt/5f0b3a52") is mounted


def test_auto_on_this_machine_asks_whether_the_directory_is_a_mount(tmp_path: Path) -> None:
    driver = LibvirtDriver("qemu:///system")  # local file access: never connected for this
    assert driver.mounts("/proc") is True
    assert driver.mounts(str(tmp_path)) is False


def test_auto_on_a_remote_host_looks_for_an_active_pool_there(tmp_path: Path) -> None:
    with LibvirtDriver(node_uri(tmp_path)) as driver:
        conn = driver.ex_connection
        assert active_pool_at(conn, "/mnt/5f0b3a52") is None
        conn.storagePoolCreateXML(
            "<pool type='dir'><name>p1</name><target><path>/mnt/5f0b3a52</path></target></pool>", 0
        )
        pool = active_pool_at(conn, "/mnt/5f0b3a52/")
        assert pool is not None and pool.name() == "p1"


def test_a_vm_on_network_disks_gets_them_as_is_and_its_seed_on_the_host(tmp_path: Path) -> None:
    spec = VMSpec(
        name="netroot",
        uuid="5f0b3a52-4c3e-4b8e-9a51-0c1f4a7d2e10",
        vcpus=1,
        memory_bytes=128 * MIB,
        disks=(
            VolumeSpec(ROOT, volume_uuid="0c1f4a7d-2e10-4b8e-9a51-5f0b3a524c3e"),
            VolumeSpec(LUN, device_id=1, format=DiskFormat.RAW),
        ),
        seed=CloudInitSeed("netroot", "netroot", "#cloud-config\n"),
    )
    seeds = tmp_path / "seeds"
    with LibvirtDriver(node_uri(tmp_path), {"network_seed_dir": str(seeds)}) as driver:
        driver.define_vm(spec)
        domain = ET.fromstring(driver.ex_domain_xml("netroot"))
        disks = {d.find("target").get("dev"): d for d in domain.iter("disk")}  # type: ignore[union-attr]
        root, data = disks["vda"], disks["vdb"]
        assert (root.get("type"), root.find("driver").get("type")) == ("network", "qcow2")  # type: ignore[union-attr]
        assert root.find("source").attrib == {  # type: ignore[union-attr]
            "protocol": "nfs",
            "name": "/srv/primary/0c1f4a7d-2e10-4b8e-9a51-5f0b3a524c3e",
        }
        assert root.find("source/host").attrib == {"name": "127.0.0.1"}  # type: ignore[union-attr]
        assert data.find("source").attrib == {  # type: ignore[union-attr]
            "protocol": "iscsi",
            "name": "iqn.2026-01.test.local:primary1/7",
        }
        assert data.find("source/host").attrib == {"name": "127.0.0.1", "port": "3261"}  # type: ignore[union-attr]
        seed = seeds / "netroot-cidata.iso"
        assert seed.is_file()
        driver.destroy_vm("netroot")
        assert not seed.exists()  # the driver made it and deletes it; the network disks belong to their pools


# -- iSCSI: QEMU's initiator or the host's kernel session (iscsi_access) ----------------------------------------

DEVICE = "/dev/disk/by-path/ip-127.0.0.1:3261-iscsi-iqn.2026-01.test.local:primary1-lun-7"


def test_a_lun_url_names_the_by_path_device_of_its_kernel_session() -> None:
    assert iscsi.by_path(LUN) == DEVICE
    assert iscsi.by_path("iscsi://192.0.2.5/iqn.2026-01.x:t/0").endswith(
        "ip-192.0.2.5:3260-iscsi-iqn.2026-01.x:t-lun-0"
    )
    with pytest.raises(DriverValueError, match="must look like iscsi://<portal>"):
        iscsi.by_path("iscsi://127.0.0.1/iqn.2026-01.x:t")


@pytest.mark.parametrize(
    ("access", "present", "expected"),
    [
        ("userspace", {DEVICE}, (LUN, SourceKind.ISCSI)),
        ("auto", set(), (LUN, SourceKind.ISCSI)),
        ("auto", {DEVICE}, (DEVICE, SourceKind.FILE)),
        ("kernel", {DEVICE}, (DEVICE, SourceKind.FILE)),
    ],
)
def test_iscsi_access_decides_per_lun(access: iscsi.IscsiAccess, present: set[str], expected: tuple[str, Any]) -> None:
    asked: list[list[str]] = []

    def look(devices: list[str]) -> set[str]:
        asked.append(devices)
        return present & set(devices)

    nfs = VolumeSpec(ROOT)
    (root, data) = iscsi.host_disks((nfs, VolumeSpec(LUN, device_id=1, format=DiskFormat.RAW)), access, look, "h1")
    assert root is nfs
    assert (data.source, data.source_kind, data.format, data.device_id) == (*expected, DiskFormat.RAW, 1)
    assert asked == ([] if access == "userspace" else [[DEVICE]])


def test_kernel_access_without_the_session_says_what_to_do() -> None:
    with pytest.raises(DriverError, match=r"host h1 has no block device /dev/disk/by-path/ip-127.*iscsi_access"):
        iscsi.host_disks((VolumeSpec(LUN, device_id=1),), "kernel", lambda _devices: set(), "h1")


def test_devices_are_looked_up_as_block_devices_on_the_host(tmp_path: Path) -> None:
    plain = tmp_path / "not a device"
    plain.write_bytes(b"")
    assert iscsi.present_devices([], "h1", [str(plain), "/dev/null"]) == set()  # this machine: no block devices
    # Over "ssh": the fake runs the remote command string with sh, as sshd does; names with spaces stay whole.
    assert iscsi.present_devices(["sh", "-c"], "h1", [str(plain), "/dev/null", DEVICE]) == set()
    with pytest.raises(DriverError, match="host h1: could not look for iSCSI block devices"):
        iscsi.present_devices(["false"], "h1", [DEVICE])


def iscsi_vm(name: str) -> VMSpec:
    return VMSpec(
        name=name,
        uuid="9a515f0b-4c3e-4b8e-9a51-0c1f4a7d2e10",
        vcpus=1,
        memory_bytes=128 * MIB,
        disks=(VolumeSpec("/var/lib/pool/root.qcow2"), VolumeSpec(LUN, device_id=1, format=DiskFormat.RAW)),
    )


@pytest.mark.parametrize(("access", "kind"), [("kernel", "block"), ("auto", "network"), ("userspace", "network")])
def test_a_vm_gets_its_luns_as_the_setting_says(tmp_path: Path, access: str, kind: str) -> None:
    """test:/// has no shell to look with: kernel is trusted, auto falls back to QEMU's initiator."""
    with LibvirtDriver(node_uri(tmp_path), {"iscsi_access": access}) as driver:
        driver.define_vm(iscsi_vm("lun-vm"))
        driver.attach_volume("lun-vm", VolumeSpec(LUN.replace("/7", "/8"), device_id=2, format=DiskFormat.RAW))
        domain = ET.fromstring(driver.ex_domain_xml("lun-vm"))
        disks = {d.find("target").get("dev"): d for d in domain.iter("disk")}  # type: ignore[union-attr]
        assert [disks[dev].get("type") for dev in ("vda", "vdb", "vdc")] == ["file", kind, kind]
        if kind == "block":
            assert disks["vdb"].find("source").attrib == {"dev": DEVICE}  # type: ignore[union-attr]
            assert disks["vdc"].find("source").attrib == {"dev": DEVICE[:-1] + "8"}  # type: ignore[union-attr]
            assert disks["vdb"].find("driver").get("type") == "raw"  # type: ignore[union-attr]
        driver.destroy_vm("lun-vm")
