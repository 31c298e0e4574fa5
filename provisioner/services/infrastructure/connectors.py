"""How ``addHost`` reaches a hypervisor: a connector callable, by default the compute driver registry.

The services never import a driver directly. ``addHost`` hands a :class:`HostConnectRequest` to a
connector and stores the :class:`~provisioner.compute.types.HostFacts` it returns; tests and the
compute layer may pass their own connector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from provisioner.compute.types import HostFacts

#: CloudStack hypervisor type to compute registry name.
DRIVER_FOR_HYPERVISOR = {
    "Simulator": "simulator",
    "KVM": "libvirt",
    "VMware": "vsphere",
    "XenServer": "xenserver",
    "Hyperv": "hyperv",
}


@dataclass(frozen=True, slots=True)
class HostConnectRequest:
    """What a connector needs to reach one host.

    Attributes:
        url: the URL given to ``addHost`` (``http://sim/c1/h1``, ``http://10.0.0.5``...).
        hypervisor: CloudStack hypervisor type of the cluster.
        driver: compute registry name of the driver to use.
        driver_uri: the URI handed to the driver (for KVM a ``qemu+ssh://`` URI built from ``url``).
        username: login for the host, when one was given.
        password: clear text for the duration of the call only; never stored.
        settings: driver settings.
    """

    url: str
    hypervisor: str
    driver: str
    driver_uri: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict)


#: A connector: reach the host and report what it has, or raise a ``DriverError``.
HostConnector = Callable[[HostConnectRequest], HostFacts]


def driver_uri(hypervisor: str, url: str, username: str | None) -> str:
    """The driver URI for an ``addHost`` URL: KVM's ``http://host`` becomes ``qemu+ssh://user@host/system``."""
    if hypervisor == "KVM" and urlsplit(url).scheme in ("http", "https"):
        address = urlsplit(url).hostname or url
        return f"qemu+ssh://{username or 'root'}@{address}/system"
    return url


def registry_connector(request: HostConnectRequest) -> HostFacts:
    """The default connector: open the registry's driver for ``request.driver`` and read the host's facts.

    Raises:
        DriverNotFoundError: no such driver; DriverError: the host could not be reached.
    """
    from provisioner.compute.registry import get_driver  # imported late: drivers pull optional modules

    driver_class = get_driver(request.driver)
    with driver_class(request.driver_uri, request.settings) as driver:
        return driver.host_facts()
