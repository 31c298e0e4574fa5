"""Lazy registry of compute drivers: built-ins by import string, outside drivers by entry point.

A driver module is imported only when :func:`get_driver` asks for it, so ``libvirt-python``, ``pyvmomi``
and friends are needed only by the clouds that use them. Outside packages add drivers through the
``provisioner.hypervisors`` entry-point group (``name = "package.module:Class"``).
"""

from __future__ import annotations

import difflib
import importlib
import threading
from importlib.metadata import entry_points

from provisioner.compute.base import HypervisorDriver
from provisioner.exceptions import DriverNotAvailableError, DriverNotFoundError

ENTRY_POINT_GROUP = "provisioner.hypervisors"

#: Built-in drivers: registry name to ``module:Class``.
BUILTIN_DRIVERS: dict[str, str] = {
    "simulator": "provisioner.compute.drivers.simulator:SimulatorDriver",
    "libvirt": "provisioner.compute.drivers.libvirt:LibvirtDriver",
}

#: Names reserved for drivers that are planned but not written yet.
PLANNED_DRIVERS: dict[str, str] = {
    "vsphere": "vmware",
    "xenserver": "xenserver",
    "hyperv": "hyperv",
}

#: Python modules a built-in needs, to turn an ImportError into the extra to install.
_EXTRAS: dict[str, tuple[str, str]] = {"libvirt": ("libvirt", "libvirt")}

_lock = threading.Lock()
_registered: dict[str, str | type[HypervisorDriver]] = {}
_loaded: dict[str, type[HypervisorDriver]] = {}


def set_driver(name: str, driver: str | type[HypervisorDriver]) -> None:
    """Register (or replace) a driver under ``name``: a class or a ``module:Class`` string."""
    with _lock:
        _registered[name] = driver
        _loaded.pop(name, None)


def _entry_point_drivers() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_drivers() -> list[str]:
    """Names :func:`get_driver` accepts (built-ins, entry points, registered), sorted."""
    return sorted({*BUILTIN_DRIVERS, *_entry_point_drivers(), *_registered})


def _import(name: str, target: str) -> type[HypervisorDriver]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        missing_module, extra = _EXTRAS.get(name, (None, None))
        if missing_module is not None and error.name == missing_module:
            raise DriverNotAvailableError(
                f"the {name} driver needs the Python module {missing_module!r}: pip install 'provisioner[{extra}]'"
            ) from error
        raise
    driver = getattr(module, attr, None)
    if not (isinstance(driver, type) and issubclass(driver, HypervisorDriver)):
        raise DriverNotFoundError(f"driver {name!r} points at {target!r}, which is not a HypervisorDriver subclass")
    return driver


def get_driver(name: str) -> type[HypervisorDriver]:
    """Return the driver class registered under ``name``, importing its module on first use.

    Raises:
        DriverNotAvailableError: the driver is planned but not written yet, or its extra is missing.
        DriverNotFoundError: no driver by that name (the message suggests close names).
    """
    with _lock:
        cached = _loaded.get(name)
        if cached is not None:
            return cached
        target: str | type[HypervisorDriver] | None = _registered.get(name) or BUILTIN_DRIVERS.get(name)
    if target is None:
        target = _entry_point_drivers().get(name)
    if target is None:
        if name in PLANNED_DRIVERS:
            raise DriverNotAvailableError(
                f"the {name} hypervisor driver is not available yet; use 'libvirt' (KVM) or 'simulator'"
            )
        close = difflib.get_close_matches(name, [*available_drivers(), *PLANNED_DRIVERS], n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DriverNotFoundError(f"no compute driver named {name!r}{hint} (known: {', '.join(available_drivers())})")
    driver = target if isinstance(target, type) else _import(name, target)
    with _lock:
        _loaded[name] = driver
    return driver
