"""The libvirt (KVM/QEMU) driver.

``domain_xml`` and ``state`` are pure and import without libvirt-python; the driver itself is loaded
on first access to :class:`LibvirtDriver` (the registry does that), so libvirt-python is imported by
this package only when the driver is really used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioner.compute.drivers.libvirt.driver import LibvirtDriver, LibvirtSettings

__all__ = ["LibvirtDriver", "LibvirtSettings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from provisioner.compute.drivers.libvirt import driver

        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
