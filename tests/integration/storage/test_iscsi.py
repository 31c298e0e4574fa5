"""The iSCSI driver against a real tgt target with file-backed LUNs on 127.0.0.1, CHAP included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioner.compute.types import DiskFormat, SourceKind, VolumeSpec
from provisioner.exceptions import DriverError, DriverSettingsError, DriverValueError, VolumeNotFoundError
from provisioner.storage.drivers.iscsi import IscsiStorageDriver
from provisioner.storage.registry import get_driver
from provisioner.storage.types import ImageFormat, PoolState
from tests.support.iscsi import IscsiTarget
from tests.support.tools import require_tool
from tests.unit.storage.contract import MIB, make_sparse_raw

pytestmark = pytest.mark.integration


def test_luns_are_volumes_with_capacity(iscsi_target: IscsiTarget) -> None:
    with get_driver("iscsi")(iscsi_target.url("primary"), {"luns": [1, 2]}) as driver:
        volumes = driver.list_volumes()
        assert [(v.name, v.virtual_size) for v in volumes] == [("lun1", 64 * MIB), ("lun2", 32 * MIB)]
        assert driver.capacity().total_bytes == 96 * MIB
        assert driver.health().ok
        with pytest.raises(NotImplementedError, match="create_volume not implemented"):
            driver.create_volume("lun3", MIB)
        with pytest.raises(VolumeNotFoundError):
            driver.get_volume("lun9")
    with IscsiStorageDriver(iscsi_target.url("primary", 2)) as one_lun:
        assert [v.name for v in one_lun.list_volumes()] == ["lun2"]


def test_copy_in_writes_the_lun_and_compute_can_attach_it(iscsi_target: IscsiTarget, tmp_path: Path) -> None:
    require_tool("qemu-img")
    image = make_sparse_raw(tmp_path / "data.raw", 16 * MIB, (0, 8 * MIB))
    with IscsiStorageDriver(iscsi_target.url("primary"), {"luns": [1, 2]}) as driver:
        driver.copy_in(image, "lun1", progress=lambda done, total: None)
        backing = iscsi_target.luns[("primary", 1)].read_bytes()
        assert backing[: 16 * MIB] == image.read_bytes()
        source = driver.disk_source("lun1")
        assert source.uri == iscsi_target.url("primary", 1)
        spec = VolumeSpec(source=source.uri, format=DiskFormat.RAW)
        assert spec.source_kind is SourceKind.ISCSI
        with pytest.raises(DriverValueError, match="needs"):
            driver.copy_in(make_sparse_raw(tmp_path / "big.raw", 40 * MIB, ()), "lun2")


def test_qcow2_is_written_as_raw(iscsi_target: IscsiTarget, tmp_path: Path) -> None:
    qemu_img = require_tool("qemu-img")
    qcow2 = tmp_path / "t.qcow2"
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", str(qcow2), "8M"], check=True)
    subprocess.run([require_tool("qemu-io"), "-c", "write -P 0x7e 0 1M", str(qcow2)], check=True, capture_output=True)
    with IscsiStorageDriver(iscsi_target.url("primary"), {"luns": [1, 2]}) as driver:
        driver.copy_in(qcow2, "lun2", fmt=ImageFormat.QCOW2)
    assert iscsi_target.luns[("primary", 2)].read_bytes()[:MIB] == b"\x7e" * MIB


def test_chap_by_reference(iscsi_target: IscsiTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("qemu-img")
    url = iscsi_target.url("chap", 1)
    without = IscsiStorageDriver(url)
    assert without.health().state is PoolState.DOWN
    assert "Authentication failure" in without.health().message
    monkeypatch.setenv("TEST_CHAP_SECRET", iscsi_target.chap_secret)
    chap = {"chap": {"username": iscsi_target.chap_user, "env": "TEST_CHAP_SECRET"}}
    with IscsiStorageDriver(url, chap) as driver:
        assert [v.name for v in driver.list_volumes()] == ["lun1"]
        image = make_sparse_raw(tmp_path / "c.raw", 4 * MIB, (0,))
        driver.copy_in(image, "lun1")
    assert iscsi_target.luns[("chap", 1)].read_bytes()[: 4 * MIB] == image.read_bytes()
    secret_file = tmp_path / "wrong"
    secret_file.write_text("wrong-secret-value")
    wrong = IscsiStorageDriver(url, {"chap": {"username": iscsi_target.chap_user, "file": str(secret_file)}})
    with pytest.raises(DriverError) as failure:
        wrong.connect()
    assert "wrong-secret-value" not in str(failure.value)


def test_bad_urls_and_missing_targets(iscsi_target: IscsiTarget) -> None:
    with pytest.raises(DriverSettingsError, match="iscsi://portal"):
        IscsiStorageDriver("iscsi://127.0.0.1/not-an-iqn")
    with pytest.raises(DriverSettingsError, match="CHAP"):
        IscsiStorageDriver(f"iscsi://user:pw@127.0.0.1/{iscsi_target.iqns['primary']}")
    missing = IscsiStorageDriver("iscsi://127.0.0.1/iqn.2026-01.test.local:nothing/1")
    assert not missing.health().ok
