"""Physical networks, traffic types, VLAN ranges, public IP ranges and guest networks."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from provisioner.model.base import IPv4, Name, Netmask, StrictModel, Tags, case_insensitive

_VLAN_RANGE_RE = re.compile(r"^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$")


def parse_vlan_range(value: Any) -> Any:
    """Accept ``100``, ``"100"`` or ``"100-199"`` and return ``(first, last)``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        first = last = value
    elif isinstance(value, str):
        match = _VLAN_RANGE_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a VLAN or VLAN range (like 100 or 100-199)")
        first = int(match.group(1))
        last = int(match.group(2) or first)
    elif isinstance(value, list | tuple) and len(value) == 2:
        first, last = int(value[0]), int(value[1])
    else:
        return value
    if not (1 <= first <= 4094 and 1 <= last <= 4094):
        raise ValueError(f"VLAN range {first}-{last} is outside 1-4094")
    if first > last:
        raise ValueError(f"VLAN range {first}-{last} ends before it starts")
    return (first, last)


VlanRange = Annotated[tuple[int, int], BeforeValidator(parse_vlan_range)]
VlanId = Annotated[int, Field(ge=1, le=4094)]


class TrafficKind(StrEnum):
    """CloudStack traffic types (topology spelling; CloudStack capitalises them)."""

    MANAGEMENT = "management"
    GUEST = "guest"
    PUBLIC = "public"
    STORAGE = "storage"


class Traffic(StrictModel):
    """A traffic type carried by a physical network, with its per-hypervisor network label.

    On KVM the label is the Linux bridge (``cloudbr0``) the host's NIC is enslaved to.
    """

    type: Annotated[TrafficKind, case_insensitive(TrafficKind)]
    kvm_label: str | None = Field(default=None, description="KVM bridge name, e.g. cloudbr0.")
    vmware_label: str | None = Field(default=None, description="vSwitch or port group name.")
    xen_label: str | None = Field(default=None, description="XenServer network name label.")
    hyperv_label: str | None = Field(default=None, description="Hyper-V virtual switch name.")


class IpRange(StrictModel):
    """A range of addresses on a network with its gateway, netmask and optional VLAN."""

    gateway: IPv4
    netmask: Netmask
    start_ip: IPv4
    end_ip: IPv4
    vlan: VlanId | None = Field(default=None, description="Tagged VLAN; untagged when absent.")


class PhysicalNetwork(StrictModel):
    """A physical network of a zone: the traffic it carries and the VLANs it may use for guests."""

    name: Name
    isolation_methods: list[str] = Field(default_factory=lambda: ["VLAN"])
    vlan_ranges: list[VlanRange] = Field(default_factory=list, description="Guest VLAN ranges, e.g. ['100-199'].")
    tags: Tags
    traffic: list[Traffic] = Field(min_length=1)
    public_ip_ranges: list[IpRange] = Field(default_factory=list)


class GuestNetworkType(StrEnum):
    """Guest network kinds."""

    SHARED = "shared"
    ISOLATED = "isolated"
    L2 = "l2"


class GuestNetwork(StrictModel):
    """A guest network created at build time (shared networks especially)."""

    name: Name
    zone: str
    type: Annotated[GuestNetworkType, case_insensitive(GuestNetworkType)] = GuestNetworkType.SHARED
    offering: str | None = Field(default=None, description="Network offering name; a stock one by default.")
    physical_network: str | None = None
    display_text: str | None = None
    vlan: VlanId | None = None
    gateway: IPv4 | None = None
    netmask: Netmask | None = None
    start_ip: IPv4 | None = None
    end_ip: IPv4 | None = None
