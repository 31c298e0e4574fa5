"""Templates and ISOs: formats their hypervisor can boot, and zones that exist."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.config.rules.base import Document, Finding, did_you_mean, hypervisor, names, text
from provisioner.model.images import FORMATS_BY_HYPERVISOR, ImageFormat

_KNOWN = frozenset(f.value for f in ImageFormat)


def template_format(doc: Document) -> Iterator[Finding]:
    """A template's format is one its hypervisor boots (qcow2/raw on KVM, ova on VMware, ...)."""
    for template in doc.top("templates"):
        kind = hypervisor(template.data.get("hypervisor"))
        fmt = text(template.data, "format")
        if kind is None or fmt is None:
            continue
        allowed = sorted(f.value for f in FORMATS_BY_HYPERVISOR[kind])
        if fmt.upper() in allowed or fmt.upper() not in _KNOWN:  # an unknown format is pydantic's to report
            continue
        yield Finding(
            template.at("format"),
            f"format {fmt} cannot be used on {kind}: {kind} templates are {' or '.join(allowed)}; "
            "convert the image or change hypervisor",
        )


def image_zones(doc: Document) -> Iterator[Finding]:
    """Every zone a template or ISO lists is defined."""
    zones = names(doc.zones)
    for image in [*doc.top("templates"), *doc.top("isos")]:
        listed = image.data.get("zones")
        if not isinstance(listed, list):
            continue
        for index, zone in enumerate(listed):
            if isinstance(zone, str) and zone.strip() not in zones:
                yield Finding(
                    image.at("zones", index),
                    f"zone {zone!r} is not defined: list zones of this file, or write zones: all",
                    did_you_mean(zone, zones),
                )
