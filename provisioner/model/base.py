"""Shared building blocks of the topology model: the strict base class and value types.

Values stay plain ``str``/``int`` after validation (fast, JSON-friendly); the validators
only check their form. Messages name the offending value, as ``validate`` prints them.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# Exactly the strings ipaddress.IPv4Address accepts (no leading zeros, ASCII digits), ten times faster.
_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = re.compile(rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "KIB": 1024,
    "M": 1000**2,
    "MB": 1000**2,
    "MIB": 1024**2,
    "G": 1000**3,
    "GB": 1000**3,
    "GIB": 1024**3,
    "T": 1000**4,
    "TB": 1000**4,
    "TIB": 1024**4,
    "P": 1000**5,
    "PB": 1000**5,
    "PIB": 1024**5,
}


class StrictModel(BaseModel):
    """Base of every topology object: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False, validate_default=False)


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _check_ipv4(value: str) -> str:
    if not IPV4_RE.fullmatch(value):
        raise ValueError(f"{value} is not an IPv4 address")
    return value


def _check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value} is not an IP address") from None
    return value


def _check_cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value} is not an IPv4 network in CIDR form (like 10.1.0.0/16): {exc}") from None
    return value


def _check_netmask(value: str) -> str:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
    except ValueError:
        raise ValueError(f"{value} is not a netmask (like 255.255.255.0)") from None
    return value


def _check_host(value: str) -> str:
    """An IP address or a DNS name (a storage server's name is resolved later, by the rules)."""
    if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", value) and not re.match(
        r"^[0-9a-fA-F:]+$", value
    ):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return value


def parse_size(value: Any) -> Any:
    """Turn ``"500GiB"``, ``"2T"`` or ``1073741824`` into a number of bytes.

    Bare numbers are bytes; ``K/M/G/T/P`` are powers of 1000 and ``Ki/Mi/Gi/Ti/Pi`` of 1024.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size (write bytes, or a number with a unit like 500GiB or 2T)")
        number, unit = match.groups()
        return int(float(number) * _SIZE_UNITS[(unit or "").upper()])
    return value


def _case_insensitive(enum: type[StrEnum]) -> Any:
    lookup = {member.value.lower(): member.value for member in enum}

    def normalise(value: Any) -> Any:
        if isinstance(value, str):
            return lookup.get(value.lower(), value)
        return value

    return normalise


Name = Annotated[str, AfterValidator(_check_name)]
IPv4 = Annotated[str, AfterValidator(_check_ipv4)]
IPAddress = Annotated[str, AfterValidator(_check_ip)]
CIDR = Annotated[str, AfterValidator(_check_cidr)]
Netmask = Annotated[str, AfterValidator(_check_netmask)]
HostAddress = Annotated[str, AfterValidator(_check_host)]
Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=255)]], Field(default_factory=list)]


class HypervisorType(StrEnum):
    """Hypervisors a cluster can run; values are the topology spelling (CloudStack's in ``cloudstack_name``)."""

    KVM = "kvm"
    VMWARE = "vmware"
    XENSERVER = "xenserver"
    HYPERV = "hyperv"
    SIMULATOR = "simulator"

    @property
    def cloudstack_name(self) -> str:
        """The name CloudStack's API uses (``hypervisor=KVM``, ``VMware``, ...)."""
        return _CLOUDSTACK_HYPERVISOR_NAMES[self]


_CLOUDSTACK_HYPERVISOR_NAMES = {
    HypervisorType.KVM: "KVM",
    HypervisorType.VMWARE: "VMware",
    HypervisorType.XENSERVER: "XenServer",
    HypervisorType.HYPERV: "Hyperv",
    HypervisorType.SIMULATOR: "Simulator",
}

Hypervisor = Annotated[HypervisorType, BeforeValidator(_case_insensitive(HypervisorType))]


def case_insensitive(enum: type[StrEnum]) -> Any:
    """A ``BeforeValidator`` that accepts any capitalisation of an enum's values."""
    return BeforeValidator(_case_insensitive(enum))
