"""The NFS driver against a real nfs-ganesha export on 127.0.0.1: user space and the mounted view."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.exceptions import DriverSettingsError
from provisioner.storage.base import StorageDriver
from provisioner.storage.drivers.nfs import NfsStorageDriver
from provisioner.storage.registry import get_driver
from provisioner.storage.types import ImageFormat, SourceKind
from tests.support.nfs import NfsServer
from tests.support.tools import require_tool
from tests.unit.storage.contract import MIB, StorageContract, make_sparse_raw

pytestmark = pytest.mark.integration


class TestNfsUserspaceContract(StorageContract):
    @pytest.fixture
    def driver(self, nfs_server: NfsServer) -> Iterator[StorageDriver]:
        require_tool("qemu-img")
        nfs_server.empty("primary")
        with NfsStorageDriver(nfs_server.url("primary")) as driver:
            yield driver


class TestNfsMountedContract(StorageContract):
    """The kernel-mount branch: the export directory stands in for the host's mount of it."""

    @pytest.fixture
    def driver(self, nfs_server: NfsServer) -> Iterator[StorageDriver]:
        require_tool("qemu-img")
        export = nfs_server.empty("secondary")
        with NfsStorageDriver(nfs_server.url("secondary"), {"mount_point": str(export)}) as driver:
            yield driver


@pytest.fixture
def primary(nfs_server: NfsServer) -> Iterator[NfsStorageDriver]:
    require_tool("qemu-img")
    nfs_server.empty("primary")
    driver = get_driver("nfs")(nfs_server.url("primary"))
    assert isinstance(driver, NfsStorageDriver)
    with driver:
        yield driver


def test_raw_copy_keeps_holes_on_the_server(primary: NfsStorageDriver, nfs_server: NfsServer, tmp_path: Path) -> None:
    source = make_sparse_raw(tmp_path / "t.raw", 64 * MIB, (0, 32 * MIB))
    volume = primary.copy_in(source, "t.raw")
    on_server = nfs_server.exports["primary"] / "t.raw"
    assert on_server.read_bytes() == source.read_bytes()
    assert on_server.stat().st_blocks <= source.stat().st_blocks + 16  # holes stayed holes
    assert volume.source.kind is SourceKind.NFS
    assert volume.source.uri == f"nfs://127.0.0.1{nfs_server.exports['primary']}/t.raw"


def test_qcow2_is_copied_byte_for_byte(primary: NfsStorageDriver, nfs_server: NfsServer, tmp_path: Path) -> None:
    qcow2 = tmp_path / "t.qcow2"
    subprocess.run([require_tool("qemu-img"), "create", "-q", "-f", "qcow2", str(qcow2), "1G"], check=True)
    subprocess.run([require_tool("qemu-io"), "-c", "write -P 0x5a 0 3M", str(qcow2)], check=True, capture_output=True)
    volume = primary.copy_in(qcow2, "t.qcow2", fmt=ImageFormat.QCOW2)
    copied = nfs_server.exports["primary"] / "t.qcow2"
    assert hashlib.sha256(copied.read_bytes()).digest() == hashlib.sha256(qcow2.read_bytes()).digest()
    assert (volume.format, volume.virtual_size) == (ImageFormat.QCOW2, 1 << 30)
    assert not list(nfs_server.exports["primary"].glob("*.part"))


def test_capacity_comes_from_fsstat(primary: NfsStorageDriver, nfs_server: NfsServer) -> None:
    stat = os.statvfs(nfs_server.exports["primary"])
    capacity = primary.capacity()
    assert capacity.total_bytes == stat.f_blocks * stat.f_frsize
    assert capacity.used_bytes > 0


def test_overlay_on_nfs_reads_through_to_the_base(primary: NfsStorageDriver, tmp_path: Path) -> None:
    template = make_sparse_raw(tmp_path / "t.raw", 8 * MIB, (0,))
    base = primary.ensure_base_image("7", template, ImageFormat.RAW)
    assert base.kind is SourceKind.NFS
    overlay = primary.create_overlay("7", "root-7")
    compare = subprocess.run(
        [require_tool("qemu-img"), "compare", "-q", str(template), overlay.source.uri], check=False
    )
    assert compare.returncode == 0  # the guest would see the template's bytes


def test_unreachable_export_is_reported_down(nfs_server: NfsServer) -> None:
    driver = NfsStorageDriver("nfs://127.0.0.1/not/exported")
    assert not driver.health().ok
    assert "refused to mount" in driver.health().message or "does not answer" in driver.health().message
    with pytest.raises(DriverSettingsError):
        NfsStorageDriver("nfs:///no-host")
