"""Regions and zones named by other objects."""

from __future__ import annotations

from typing import Any

from tests.unit.config.helpers import Checker, zone


def test_zone_names_an_unknown_region(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["region"] = "r2"
    check.expect(
        doc,
        "region: ^r2",
        "zones[0].region",
        "region 'r2' is not defined: use the name of one of the regions (defined: r1)",
    )


def test_storage_server_names_an_unknown_zone(check: Checker, doc: dict[str, Any]) -> None:
    doc["storage_servers"][0]["zone"] = "z2"
    check.expect(
        doc,
        "zone: ^z2",
        "storage_servers[0].zone",
        "zone 'z2' is not defined: use the name of one of the zones, or leave zone out (defined: z1)",
    )
