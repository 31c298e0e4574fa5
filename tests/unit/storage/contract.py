"""The storage driver contract suite: one set of tests every storage driver passes.

A driver's test module subclasses :class:`StorageContract` and provides a ``driver`` fixture (connected,
on an empty pool). ``writes_bytes`` says whether the backend really stores bytes (the simulator does
not, so sparseness is not checked there); optional verbs follow the driver's declared features.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provisioner.compute.types import DiskFormat, VolumeSpec
from provisioner.exceptions import (
    DriverError,
    DriverSettingsError,
    DriverValueError,
    StorageMaintenanceError,
    VolumeExistsError,
    VolumeNotFoundError,
)
from provisioner.storage.base import StorageDriver, base_image_name
from provisioner.storage.refcount import BaseImageRefs
from provisioner.storage.types import Capacity, ImageFormat, PoolState, StorageFeatures, VolumeInfo

MIB = 1 << 20

#: Optional verbs, the feature that makes each one mandatory, and sample arguments.
OPTIONAL_VERBS: dict[str, tuple[StorageFeatures, tuple[object, ...]]] = {
    "create_volume": (StorageFeatures.VOLUMES, ("v", MIB)),
    "delete_volume": (StorageFeatures.VOLUMES, ("v",)),
    "ensure_base_image": (StorageFeatures.OVERLAYS, ("t", "/nonexistent", ImageFormat.RAW)),
    "create_overlay": (StorageFeatures.OVERLAYS, ("t", "v")),
}


def make_sparse_raw(path: Path, size: int = 16 * MIB, data_at: tuple[int, ...] = (4 * MIB,)) -> Path:
    """A raw image of ``size`` bytes with 1 MiB of data at each offset and holes elsewhere."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset in data_at:
            handle.seek(offset)
            handle.write(os.urandom(MIB))
    return path


class StorageContract:
    """Shared tests; subclasses supply the ``driver`` fixture."""

    #: Whether the backend stores real bytes (holes and sizes can be checked on disk).
    writes_bytes: bool = True

    # -- construction -------------------------------------------------------------------------------

    def test_unknown_setting_is_refused(self, driver: StorageDriver) -> None:
        with pytest.raises(DriverSettingsError, match="no_such_setting"):
            type(driver)(driver.url, {"no_such_setting": 1})

    def test_features_are_declared(self, driver: StorageDriver) -> None:
        assert isinstance(driver.features, StorageFeatures)
        assert driver.features & (StorageFeatures.PRIMARY | StorageFeatures.IMAGE_STORE)

    def test_optional_verbs_follow_features(self, driver: StorageDriver) -> None:
        for verb, (feature, args) in OPTIONAL_VERBS.items():
            if not driver.supports(feature):
                with pytest.raises(NotImplementedError, match=f"{verb} not implemented"):
                    getattr(driver, verb)(*args)

    # -- reading ----------------------------------------------------------------------------------

    def test_capacity_and_health(self, driver: StorageDriver) -> None:
        capacity = driver.capacity()
        assert isinstance(capacity, Capacity)
        assert capacity.total_bytes > 0
        assert 0 <= capacity.used_fraction() <= 1
        assert driver.health().ok

    def test_empty_pool_lists_nothing(self, driver: StorageDriver) -> None:
        assert driver.list_volumes() == []
        with pytest.raises(VolumeNotFoundError):
            driver.get_volume("missing")
        with pytest.raises(VolumeNotFoundError):
            driver.disk_source("missing")

    # -- volumes ----------------------------------------------------------------------------------

    def test_volume_lifecycle(self, driver: StorageDriver) -> None:
        if not driver.supports(StorageFeatures.VOLUMES):
            pytest.skip("the driver does not create volumes")
        before = driver.capacity().allocated_bytes
        volume = driver.create_volume("data-1", 64 * MIB, ImageFormat.QCOW2)
        assert isinstance(volume, VolumeInfo)
        assert (volume.name, volume.format, volume.virtual_size) == ("data-1", ImageFormat.QCOW2, 64 * MIB)
        assert driver.capacity().allocated_bytes == before + 64 * MIB
        assert [v.name for v in driver.list_volumes()] == ["data-1"]
        assert driver.get_volume("data-1") == volume
        with pytest.raises(VolumeExistsError):
            driver.create_volume("data-1", MIB)
        raw = driver.create_volume("data-2", 8 * MIB, ImageFormat.RAW)
        assert raw.format is ImageFormat.RAW
        if self.writes_bytes:
            assert raw.allocated_bytes < MIB  # thin
        driver.delete_volume("data-1")
        driver.delete_volume("data-1")  # idempotent: a retry after a crash
        assert [v.name for v in driver.list_volumes()] == ["data-2"]

    def test_bad_names_and_sizes_are_refused(self, driver: StorageDriver) -> None:
        if not driver.supports(StorageFeatures.VOLUMES):
            pytest.skip("the driver does not create volumes")
        for name in ("../escape", "", ".hidden", "x.part", "a/b"):
            with pytest.raises(DriverValueError):
                driver.create_volume(name, MIB)
        with pytest.raises(DriverValueError):
            driver.create_volume("zero", 0)

    def test_disk_source_is_usable_by_compute(self, driver: StorageDriver, tmp_path: Path) -> None:
        driver.copy_in(make_sparse_raw(tmp_path / "img.raw"), "img.raw")
        source = driver.disk_source("img.raw")
        spec = VolumeSpec(source=source.uri, format=DiskFormat(source.format.qemu_name))
        assert spec.source_kind.value == source.kind.value

    # -- copies -----------------------------------------------------------------------------------

    def test_copy_in_is_sparse_and_reports_progress(self, driver: StorageDriver, tmp_path: Path) -> None:
        source = make_sparse_raw(tmp_path / "src.raw")
        seen: list[tuple[int, int]] = []
        volume = driver.copy_in(source, "tmpl.raw", fmt=ImageFormat.RAW, progress=lambda d, t: seen.append((d, t)))
        assert volume.virtual_size == source.stat().st_size
        assert seen[-1] == (source.stat().st_size, source.stat().st_size)
        assert [v.name for v in driver.list_volumes()] == ["tmpl.raw"]
        if self.writes_bytes:
            assert volume.allocated_bytes <= source.stat().st_blocks * 512
        with pytest.raises(VolumeExistsError):
            driver.copy_in(source, "tmpl.raw")

    # -- base images and overlays -------------------------------------------------------------------

    def test_base_image_and_overlays_with_refcounts(self, driver: StorageDriver, tmp_path: Path) -> None:
        if not driver.supports(StorageFeatures.OVERLAYS):
            pytest.skip("the driver has no overlays")
        template = make_sparse_raw(tmp_path / "t.raw")
        first = driver.ensure_base_image("201", template, ImageFormat.RAW)
        assert driver.ensure_base_image("201", template, ImageFormat.RAW) == first  # copied once
        base = base_image_name("201")
        refs = BaseImageRefs()
        for vm in ("root-1", "root-2"):
            overlay = driver.create_overlay("201", vm, 32 * MIB)
            assert (overlay.format, overlay.backing, overlay.virtual_size) == (ImageFormat.QCOW2, base, 32 * MIB)
            refs = refs.acquire(base, vm)
        with pytest.raises(DriverValueError):
            driver.create_overlay("201", "too-small", MIB)
        with pytest.raises(DriverError, match="base image"):
            driver.delete_volume(base)  # the safety net under the counts
        driver.delete_volume("root-1")
        refs, unused = refs.release("root-1")
        assert unused is None
        driver.delete_volume("root-2")
        refs, unused = refs.release("root-2")
        assert unused == base
        driver.delete_volume(unused)
        assert driver.list_volumes() == []

    # -- maintenance ------------------------------------------------------------------------------

    def test_maintenance_refuses_new_work(self, driver: StorageDriver, tmp_path: Path) -> None:
        driver.enter_maintenance()
        assert driver.state is PoolState.MAINTENANCE
        assert driver.health().state is PoolState.MAINTENANCE
        with pytest.raises(StorageMaintenanceError):
            driver.copy_in(make_sparse_raw(tmp_path / "m.raw"), "m.raw")
        driver.cancel_maintenance()
        assert driver.health().ok
        driver.copy_in(tmp_path / "m.raw", "m.raw")
