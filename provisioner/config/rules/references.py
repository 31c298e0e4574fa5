"""Names of regions and zones that other objects refer to."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.config.rules.base import Document, Finding, did_you_mean, names, text


def region_and_zone_references(doc: Document) -> Iterator[Finding]:
    """A zone's ``region`` and a storage server's ``zone`` name objects of the file."""
    regions = names(doc.regions)
    for zone in doc.zones:
        region = text(zone.data, "region")
        if region is not None and region not in regions:
            yield Finding(
                zone.at("region"),
                f"region {region!r} is not defined: use the name of one of the regions",
                did_you_mean(region, regions),
            )
    zones = names(doc.zones)
    for server in doc.top("storage_servers"):
        zone_name = text(server.data, "zone")
        if zone_name is not None and zone_name not in zones:
            yield Finding(
                server.at("zone"),
                f"zone {zone_name!r} is not defined: use the name of one of the zones, or leave zone out",
                did_you_mean(zone_name, zones),
            )
