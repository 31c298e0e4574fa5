"""Physical networks, traffic types, VLANs, and the names hosts and guest networks refer to."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.config.rules.base import Document, Finding, Place, did_you_mean, format_loc, lowered, names, text
from provisioner.model.network import parse_vlan_range

#: Network offerings every CloudStack zone has, whatever the topology defines.
STOCK_NETWORK_OFFERINGS = (
    "DefaultIsolatedNetworkOfferingWithSourceNatService",
    "DefaultSharedNetworkOffering",
    "DefaultSharedNetworkOfferingWithSGService",
    "DefaultIsolatedNetworkOfferingForVpcNetworks",
    "DefaultL2NetworkOffering",
)
_REQUIRED_TRAFFIC = {"advanced": ("management", "guest", "public"), "basic": ("management", "guest")}


def _vlan_ranges(physnet: Place) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    items = physnet.data.get("vlan_ranges")
    for item in items if isinstance(items, list) else []:
        try:
            parsed = parse_vlan_range(item)
        except (ValueError, TypeError):
            continue
        if isinstance(parsed, tuple):
            found.append(parsed)
    return found


def _spans(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def traffic(doc: Document) -> Iterator[Finding]:
    """One traffic type once per physical network, and the types a zone's network type needs."""
    for zone in doc.zones:
        carried: set[str] = set()
        for physnet in doc.below([zone], "physical_networks"):
            seen: dict[str, Place] = {}
            for item in doc.below([physnet], "traffic"):
                kind = lowered(item.data, "type")
                if kind is None:
                    continue
                carried.add(kind)
                first = seen.setdefault(kind, item)
                if first is not item:
                    yield Finding(
                        item.at("type"),
                        f"traffic type {kind} is already listed at {format_loc(first.loc)}: "
                        "list each traffic type once per physical network",
                    )
        network_type = lowered(zone.data, "network_type") or "advanced"
        missing = [kind for kind in _REQUIRED_TRAFFIC.get(network_type, ()) if kind not in carried]
        if missing:
            article = "an" if network_type == "advanced" else "a"
            yield Finding(
                zone.at("physical_networks"),
                f"{article} {network_type.capitalize()} zone needs {', '.join(missing)} traffic, which no physical "
                "network of this zone carries: add it to a physical network's traffic list",
            )


def public_vlans(doc: Document) -> Iterator[Finding]:
    """Public IP range VLANs stay out of the zone's guest VLAN ranges."""
    for zone in doc.zones:
        physnets = list(doc.below([zone], "physical_networks"))
        guest = [(physnet, span) for physnet in physnets for span in _vlan_ranges(physnet)]
        for item in doc.below(physnets, "public_ip_ranges"):
            vlan = item.data.get("vlan")
            if not isinstance(vlan, int):
                continue
            for physnet, (first, last) in guest:
                if first <= vlan <= last:
                    yield Finding(
                        item.at("vlan"),
                        f"public VLAN {vlan} is inside the guest VLAN range {first}-{last} of "
                        f"{format_loc(physnet.loc)}: guest networks would take it too; "
                        "pick a VLAN outside the guest ranges",
                    )
                    break


def guest_vlans(doc: Document) -> Iterator[Finding]:
    """A guest network's VLAN lies in its physical network's VLAN ranges."""
    zones = names(doc.zones)
    for network in doc.top("networks"):
        vlan = network.data.get("vlan")
        zone = zones.get(text(network.data, "zone") or "")
        physnet = _physnet_of(doc, zone, network) if zone is not None else None
        if not isinstance(vlan, int) or physnet is None:
            continue
        ranges = _vlan_ranges(physnet)
        if not any(first <= vlan <= last for first, last in ranges):
            yield Finding(
                network.at("vlan"),
                f"VLAN {vlan} is outside the VLAN ranges of physical network {format_loc(physnet.loc)} "
                f"({_spans(ranges) or 'none'}): pick a VLAN in them or widen vlan_ranges",
            )


def _physnet_of(doc: Document, zone: Place, network: Place) -> Place | None:
    """The physical network a guest network names, else the zone's only one carrying guest traffic."""
    physnets = list(doc.below([zone], "physical_networks"))
    wanted = text(network.data, "physical_network")
    if wanted is not None:
        return names(physnets).get(wanted)
    guest = [p for p in physnets if any(lowered(t.data, "type") == "guest" for t in doc.below([p], "traffic"))]
    return guest[0] if len(guest) == 1 else None


def network_references(doc: Document) -> Iterator[Finding]:
    """Host NIC keys and guest networks name physical networks, zones and offerings that exist."""
    physnets_by_zone = {id(zone): names(doc.below([zone], "physical_networks")) for zone in doc.zones}
    for host in doc.hosts:
        nics = host.data.get("nics")
        if not isinstance(nics, dict) or not nics:
            continue
        known = physnets_by_zone[id(host.up(3))]
        for key in nics:
            if isinstance(key, str) and key not in known:
                yield Finding(
                    host.at("nics", key),
                    f"nics names physical network {key!r}, which zone {text(host.up(3).data, 'name')!r} "
                    "does not define: use the name of one of its physical_networks",
                    did_you_mean(key, known),
                    on_key=True,
                )
    zones = names(doc.zones)
    offerings = {*STOCK_NETWORK_OFFERINGS, *names(doc.top("network_offerings"))}
    for network in doc.top("networks"):
        zone_name = text(network.data, "zone")
        zone = zones.get(zone_name or "")
        if zone_name is not None and zone is None:
            yield Finding(
                network.at("zone"),
                f"zone {zone_name!r} is not defined: use the name of one of the zones",
                did_you_mean(zone_name, zones),
            )
        physnet = text(network.data, "physical_network")
        if zone is not None and physnet is not None and physnet not in physnets_by_zone[id(zone)]:
            yield Finding(
                network.at("physical_network"),
                f"physical network {physnet!r} is not defined in zone {zone_name!r}: "
                "use the name of one of its physical_networks",
                did_you_mean(physnet, physnets_by_zone[id(zone)]),
            )
        offering = text(network.data, "offering")
        if offering is not None and offering not in offerings:
            yield Finding(
                network.at("offering"),
                f"network offering {offering!r} is neither a stock CloudStack offering nor one of network_offerings: "
                "use one of them or define it",
                did_you_mean(offering, offerings),
            )
