"""Lazy registry of compute drivers: built-ins by import string, outside drivers by entry point.

A driver module is imported only when :func:`get_driver` asks for it, so ``libvirt-python``, ``pyvmomi``
and friends are needed only by the clouds that use them. Outside packages add drivers through the
``provisioner.hypervisors`` entry-point group (``name = "package.module:Class"``).
"""

from __future__ import annotations

from provisioner.compute.base import HypervisorDriver
from provisioner.drivers import LazyRegistry

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

#: The registry behind this module's functions (tests reset ``REGISTRY.registered`` and ``.loaded``).
REGISTRY: LazyRegistry[HypervisorDriver] = LazyRegistry(
    HypervisorDriver,
    group=ENTRY_POINT_GROUP,
    builtins=BUILTIN_DRIVERS,
    noun="compute driver",
    label="driver",
    planned=PLANNED_DRIVERS,
    planned_message="the {name} hypervisor driver is not available yet; use 'libvirt' (KVM) or 'simulator'",
    # Python modules a built-in needs, to turn an ImportError into the extra to install.
    extras={"libvirt": ("libvirt", "libvirt")},
)


def set_driver(name: str, driver: str | type[HypervisorDriver]) -> None:
    """Register (or replace) a driver under ``name``: a class or a ``module:Class`` string."""
    REGISTRY.set_driver(name, driver)


def available_drivers() -> list[str]:
    """Names :func:`get_driver` accepts (built-ins, entry points, registered), sorted."""
    return REGISTRY.available_drivers()


def get_driver(name: str) -> type[HypervisorDriver]:
    """Return the driver class registered under ``name``, importing its module on first use.

    Raises:
        DriverNotAvailableError: the driver is planned but not written yet, or its extra is missing.
        DriverNotFoundError: no driver by that name (the message suggests close names).
    """
    return REGISTRY.get_driver(name)
