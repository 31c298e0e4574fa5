"""The contract suite against the simulator, local and FC (a temporary directory) drivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.exceptions import DriverError, DriverSettingsError
from provisioner.storage.base import StorageDriver
from provisioner.storage.drivers.fc import FibreChannelStorageDriver
from provisioner.storage.drivers.local import LocalStorageDriver
from provisioner.storage.drivers.simulator import SimulatorStorageDriver
from provisioner.storage.types import PoolState, StorageFeatures
from tests.support.tools import require_tool
from tests.unit.storage.contract import StorageContract


class TestSimulatorContract(StorageContract):
    writes_bytes = False

    @pytest.fixture
    def driver(self) -> Iterator[StorageDriver]:
        SimulatorStorageDriver.ex_reset()
        with SimulatorStorageDriver("nfs://sim/primary", {"capacity_bytes": 1 << 40}) as driver:
            yield driver
        SimulatorStorageDriver.ex_reset()


class TestLocalContract(StorageContract):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        require_tool("qemu-img")
        (tmp_path / "pool").mkdir()
        with LocalStorageDriver(f"file://{tmp_path}/pool") as driver:
            yield driver


class TestFibreChannelContract(StorageContract):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        require_tool("qemu-img")
        (tmp_path / "fc").mkdir()
        with FibreChannelStorageDriver(f"presetup://host1{tmp_path}/fc") as driver:
            yield driver


def test_simulator_pools_are_shared_by_url_and_can_be_down() -> None:
    SimulatorStorageDriver.ex_reset()
    with SimulatorStorageDriver("nfs://sim/a") as one, SimulatorStorageDriver("nfs://sim/a") as two:
        one.create_volume("v", 1 << 20)
        assert [v.name for v in two.list_volumes()] == ["v"]
    with SimulatorStorageDriver("nfs://sim/b", {"down": True}) as down:
        assert down.health().state is PoolState.DOWN
    SimulatorStorageDriver.ex_reset()


def test_local_driver_reports_a_missing_directory(tmp_path: Path) -> None:
    driver = LocalStorageDriver(str(tmp_path / "nope"))
    assert driver.health().state is PoolState.DOWN
    with pytest.raises(DriverError, match="does not exist"):
        driver.connect()


def test_local_quota_and_fc_schemes(tmp_path: Path) -> None:
    with LocalStorageDriver(str(tmp_path), {"capacity_bytes": 10 << 30}) as driver:
        assert driver.capacity().total_bytes == 10 << 30
    with pytest.raises(DriverSettingsError, match="presetup://"):
        FibreChannelStorageDriver("nfs://server/export")
    assert FibreChannelStorageDriver.features & StorageFeatures.SHARED
    assert not LocalStorageDriver.features & StorageFeatures.SHARED
