"""The libvirt driver's view of network primary storage: which NFS pools it mounts, and VMs whose disks are
``nfs://`` and ``iscsi://`` network disks (root included), against libvirt's ``test:///`` driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.compute.drivers.libvirt.disks import active_pool_at
from provisioner.compute.types import CloudInitSeed, DiskFormat, VMSpec, VolumeSpec
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
