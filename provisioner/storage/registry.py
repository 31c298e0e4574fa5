"""Lazy registry of storage drivers: built-ins by import string, outside drivers by entry point.

A driver module is imported only when :func:`get_driver` asks for it. Outside packages add drivers
through the ``provisioner.storage`` entry-point group (``name = "package.module:Class"``). Registry
names equal the topology's ``protocol`` values (``nfs``, ``iscsi``, ``fc``, ``local``).
"""

from __future__ import annotations

import difflib
import importlib
import threading
from importlib.metadata import entry_points

from provisioner.exceptions import DriverNotFoundError
from provisioner.storage.base import StorageDriver

ENTRY_POINT_GROUP = "provisioner.storage"

#: Built-in drivers: registry name to ``module:Class``.
BUILTIN_DRIVERS: dict[str, str] = {
    "simulator": "provisioner.storage.drivers.simulator:SimulatorStorageDriver",
    "local": "provisioner.storage.drivers.local:LocalStorageDriver",
    "fc": "provisioner.storage.drivers.fc:FibreChannelStorageDriver",
    "nfs": "provisioner.storage.drivers.nfs:NfsStorageDriver",
    "iscsi": "provisioner.storage.drivers.iscsi:IscsiStorageDriver",
}

_lock = threading.Lock()
_registered: dict[str, str | type[StorageDriver]] = {}
_loaded: dict[str, type[StorageDriver]] = {}


def set_driver(name: str, driver: str | type[StorageDriver]) -> None:
    """Register (or replace) a driver under ``name``: a class or a ``module:Class`` string."""
    with _lock:
        _registered[name] = driver
        _loaded.pop(name, None)


def _entry_point_drivers() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_drivers() -> list[str]:
    """Names :func:`get_driver` accepts (built-ins, entry points, registered), sorted."""
    return sorted({*BUILTIN_DRIVERS, *_entry_point_drivers(), *_registered})


def _import(name: str, target: str) -> type[StorageDriver]:
    module_name, _, attr = target.partition(":")
    driver = getattr(importlib.import_module(module_name), attr, None)
    if not (isinstance(driver, type) and issubclass(driver, StorageDriver)):
        raise DriverNotFoundError(
            f"storage driver {name!r} points at {target!r}, which is not a StorageDriver subclass"
        )
    return driver


def get_driver(name: str) -> type[StorageDriver]:
    """Return the driver class registered under ``name``, importing its module on first use.

    Raises:
        DriverNotFoundError: no driver by that name (the message suggests close names).
    """
    with _lock:
        cached = _loaded.get(name)
        if cached is not None:
            return cached
        target: str | type[StorageDriver] | None = _registered.get(name) or BUILTIN_DRIVERS.get(name)
    if target is None:
        target = _entry_point_drivers().get(name)
    if target is None:
        close = difflib.get_close_matches(name, available_drivers(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DriverNotFoundError(f"no storage driver named {name!r}{hint} (known: {', '.join(available_drivers())})")
    driver = target if isinstance(target, type) else _import(name, target)
    with _lock:
        _loaded[name] = driver
    return driver
