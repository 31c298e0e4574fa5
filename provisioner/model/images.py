"""Templates and ISOs, with the zones they are registered in."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from provisioner.model.base import Hypervisor, StrictModel, case_insensitive

_CHECKSUM_RE = re.compile(r"^(\{(SHA1|SHA256|SHA384|SHA512|MD5)\})?([0-9a-fA-F]+)$")
_CHECKSUM_LENGTHS = {"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA384": 96, "SHA512": 128}


def _check_checksum(value: str) -> str:
    match = _CHECKSUM_RE.match(value)
    if not match:
        raise ValueError(
            f"{value!r} is not a checksum: write {{SHA256}}<hex>, {{SHA512}}<hex>, {{MD5}}<hex> or bare hex"
        )
    algorithm, digest = match.group(2), match.group(3)
    expected = [_CHECKSUM_LENGTHS[algorithm]] if algorithm else [32, 40, 64, 96, 128]
    if len(digest) not in expected:
        raise ValueError(f"checksum {value!r} has {len(digest)} hex digits; {algorithm or 'a digest'} needs {expected}")
    return value


def _check_url(value: str) -> str:
    if not re.match(r"^(https?|nfs)://[^\s/]+(/[^\s]*)?$", value):
        raise ValueError(f"{value!r} is not an http(s):// or nfs:// URL")
    return value


Checksum = Annotated[str, AfterValidator(_check_checksum)]
Url = Annotated[str, AfterValidator(_check_url)]


class ImageFormat(StrEnum):
    """Disk image formats, CloudStack's spelling."""

    QCOW2 = "QCOW2"
    RAW = "RAW"
    VHD = "VHD"
    VHDX = "VHDX"
    OVA = "OVA"


#: Formats each hypervisor can boot from (validation rule "template format valid for its hypervisor").
FORMATS_BY_HYPERVISOR: dict[str, frozenset[ImageFormat]] = {
    "kvm": frozenset({ImageFormat.QCOW2, ImageFormat.RAW}),
    "vmware": frozenset({ImageFormat.OVA}),
    "xenserver": frozenset({ImageFormat.VHD}),
    "hyperv": frozenset({ImageFormat.VHDX}),
    "simulator": frozenset(ImageFormat),
}

ZoneList = Literal["all"] | list[str]


class Template(StrictModel):
    """A VM template registered from a URL into the image stores of its zones."""

    name: str = Field(min_length=1, max_length=255)
    display_text: str | None = None
    url: Url
    checksum: Checksum | None = None
    format: Annotated[ImageFormat, case_insensitive(ImageFormat)]
    hypervisor: Hypervisor
    os_type: str = Field(min_length=1, description="OS type description, e.g. 'Debian GNU/Linux 12 (64-bit)'.")
    zones: ZoneList = "all"
    public: bool = True
    featured: bool = False
    password_enabled: bool = False
    ssh_key_enabled: bool = True
    extractable: bool = False


class Iso(StrictModel):
    """An ISO image registered from a URL."""

    name: str = Field(min_length=1, max_length=255)
    display_text: str | None = None
    url: Url
    checksum: Checksum | None = None
    os_type: str = Field(min_length=1)
    bootable: bool = True
    zones: ZoneList = "all"
    public: bool = True
    featured: bool = False
