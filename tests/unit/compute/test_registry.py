"""The lazy driver registry: built-ins, entry points, outside classes and helpful errors."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from provisioner import drivers
from provisioner.compute import registry
from provisioner.compute.drivers.simulator import SimulatorDriver
from provisioner.exceptions import DriverNotAvailableError, DriverNotFoundError


def test_builtin_simulator() -> None:
    assert registry.get_driver("simulator") is SimulatorDriver


def test_importing_the_registry_and_the_simulator_does_not_import_libvirt() -> None:
    code = (
        "import sys\n"
        "from provisioner.compute.registry import get_driver\n"
        "import provisioner.compute.base, provisioner.compute.types\n"
        "get_driver('simulator')\n"
        "assert 'libvirt' not in sys.modules, 'libvirt imported too early'\n"
        "from provisioner.exceptions import DriverNotAvailableError\n"
        "try:\n"
        "    get_driver('libvirt')\n"
        "    assert 'libvirt' in sys.modules\n"
        "except DriverNotAvailableError as error:  # libvirt-python absent: the message says what to install\n"
        "    assert 'provisioner[libvirt]' in str(error)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(
        DriverNotFoundError, match=r"no compute driver named 'simulater'; did you mean 'simulator'"
    ) as err:
        registry.get_driver("simulater")
    assert isinstance(err.value, LookupError)


def test_planned_drivers_say_not_available_yet() -> None:
    for name in ("vsphere", "xenserver", "hyperv"):
        with pytest.raises(DriverNotAvailableError, match=f"the {name} hypervisor driver is not available yet"):
            registry.get_driver(name)


def _entry_points(**kwargs: Any) -> list[EntryPoint]:
    assert kwargs == {"group": registry.ENTRY_POINT_GROUP}
    return [EntryPoint("outside", "provisioner.compute.drivers.simulator:SimulatorDriver", registry.ENTRY_POINT_GROUP)]


def test_entry_point_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drivers, "entry_points", _entry_points)
    monkeypatch.setattr(registry.REGISTRY, "loaded", {})
    assert "outside" in registry.available_drivers()
    assert registry.get_driver("outside") is SimulatorDriver


def test_entry_point_that_is_not_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.REGISTRY, "registered", {"bogus": "provisioner.compute.types:VMSpec"})
    monkeypatch.setattr(registry.REGISTRY, "loaded", {})
    with pytest.raises(DriverNotFoundError, match="not a HypervisorDriver subclass"):
        registry.get_driver("bogus")


def test_set_driver_with_a_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.REGISTRY, "registered", {})
    monkeypatch.setattr(registry.REGISTRY, "loaded", {})
    registry.set_driver("mine", SimulatorDriver)
    assert registry.get_driver("mine") is SimulatorDriver


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name="libvirt")

    monkeypatch.setattr(importlib, "import_module", fail)
    monkeypatch.setattr(registry.REGISTRY, "loaded", {})
    with pytest.raises(DriverNotAvailableError, match=r"pip install 'provisioner\[libvirt\]'"):
        registry.get_driver("libvirt")
