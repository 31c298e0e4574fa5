"""Reaching the hypervisor behind a host row: the one place the lifecycle services open a driver.

Every VM, volume, snapshot and health operation that must touch a hypervisor goes through
:func:`open_host_driver` with the host's database row, so how a host is reached (driver name, URI,
settings) is decided once, the same way ``addHost`` decided it. Tests swap the opener
with :func:`use_host_driver_opener` to count or fail calls without patching drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from provisioner.compute.base import HypervisorDriver
from provisioner.services.infrastructure.connectors import driver_uri


def host_driver_uri(host_row: Mapping[str, Any]) -> str:
    """The driver URI for a stored host: what ``addHost`` connected to (``qemu+ssh://…``, ``http://sim/…``)."""
    return driver_uri(host_row["hypervisor_type"], host_row["url"], host_row.get("username"))


def _registry_opener(host_row: Mapping[str, Any]) -> HypervisorDriver:
    """Build (not yet connected) the registry's driver for ``host_row``."""
    from provisioner.compute.registry import get_driver  # late: drivers pull optional modules

    driver_class = get_driver(host_row["driver"])
    return driver_class(host_driver_uri(host_row), dict(host_row.get("driver_settings") or {}))


HostDriverOpener = Callable[[Mapping[str, Any]], HypervisorDriver]

#: The opener in use (``"current"``); replaceable in tests through :func:`use_host_driver_opener`.
_OPENER: dict[str, HostDriverOpener] = {"current": _registry_opener}


@contextmanager
def open_host_driver(host_row: Mapping[str, Any]) -> Iterator[HypervisorDriver]:
    """Connect to the hypervisor of ``host_row`` for the duration of the ``with`` block.

    ``host_row`` needs the ``host`` table's ``driver``, ``driver_settings``, ``hypervisor_type``, ``url``
    and ``username`` columns.

    Raises:
        DriverNotFoundError / DriverNotAvailableError: the host's driver cannot be loaded.
        HostUnreachableError / DriverError: the hypervisor did not answer.
    """
    with _OPENER["current"](host_row) as driver:
        yield driver


@contextmanager
def use_host_driver_opener(opener: HostDriverOpener) -> Iterator[None]:
    """Route :func:`open_host_driver` through ``opener`` inside the block (tests)."""
    previous, _OPENER["current"] = _OPENER["current"], opener
    try:
        yield
    finally:
        _OPENER["current"] = previous
