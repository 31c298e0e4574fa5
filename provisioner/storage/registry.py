"""Lazy registry of storage drivers: built-ins by import string, outside drivers by entry point.

A driver module is imported only when :func:`get_driver` asks for it. Outside packages add drivers
through the ``provisioner.storage`` entry-point group (``name = "package.module:Class"``). Registry
names equal the topology's ``protocol`` values (``nfs``, ``iscsi``, ``fc``, ``local``).
"""

from __future__ import annotations

from provisioner.drivers import LazyRegistry
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

#: The registry behind this module's functions (tests reset ``REGISTRY.registered`` and ``.loaded``).
REGISTRY: LazyRegistry[StorageDriver] = LazyRegistry(
    StorageDriver, group=ENTRY_POINT_GROUP, builtins=BUILTIN_DRIVERS, noun="storage driver", label="storage driver"
)


def set_driver(name: str, driver: str | type[StorageDriver]) -> None:
    """Register (or replace) a driver under ``name``: a class or a ``module:Class`` string."""
    REGISTRY.set_driver(name, driver)


def available_drivers() -> list[str]:
    """Names :func:`get_driver` accepts (built-ins, entry points, registered), sorted."""
    return REGISTRY.available_drivers()


def get_driver(name: str) -> type[StorageDriver]:
    """Return the driver class registered under ``name``, importing its module on first use.

    Raises:
        DriverNotFoundError: no driver by that name (the message suggests close names).
    """
    return REGISTRY.get_driver(name)
