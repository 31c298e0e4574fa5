"""The lazy storage registry: built-ins by name, outside drivers, and helpful errors."""

from __future__ import annotations

import pytest

from provisioner.exceptions import DriverNotFoundError
from provisioner.storage import registry
from provisioner.storage.base import StorageDriver
from provisioner.storage.drivers.simulator import SimulatorStorageDriver


def test_every_builtin_imports_and_is_a_storage_driver() -> None:
    for name in registry.BUILTIN_DRIVERS:
        driver = registry.get_driver(name)
        assert issubclass(driver, StorageDriver)
        assert driver.name == name


def test_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(DriverNotFoundError, match="did you mean 'iscsi'"):
        registry.get_driver("iscis")


def test_outside_drivers_can_be_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.REGISTRY, "registered", {})
    monkeypatch.setattr(registry.REGISTRY, "loaded", {})
    registry.set_driver("ceph", SimulatorStorageDriver)
    assert registry.get_driver("ceph") is SimulatorStorageDriver
    assert "ceph" in registry.available_drivers()
    registry.set_driver("broken", "provisioner.storage.types:Capacity")
    with pytest.raises(DriverNotFoundError, match="not a StorageDriver subclass"):
        registry.get_driver("broken")
