"""IP ranges and networks: ranges inside their network, in order, and not overlapping each other."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from provisioner.config.rules.base import Document, Finding, Place, cidr, format_loc, ip_int, ip_str, network_of

Network = ipaddress.IPv4Network


def address_range(place: Place) -> tuple[int, int] | None:
    """``(start, end)`` of a mapping with ``start_ip`` and ``end_ip``, when both are addresses in order."""
    start, end = ip_int(place.data.get("start_ip")), ip_int(place.data.get("end_ip"))
    if start is None or end is None or start > end:
        return None
    return start, end


def _check_range(place: Place, what: str) -> Iterator[Finding]:
    """Start before end, and gateway, start and end usable addresses of the gateway's network."""
    data = place.data
    start, end = ip_int(data.get("start_ip")), ip_int(data.get("end_ip"))
    if start is not None and end is not None and start > end:
        yield Finding(
            place.at("start_ip"),
            f"start_ip {ip_str(start)} is after end_ip {ip_str(end)} in this {what}: swap them",
        )
    network = network_of(data)
    if network is None:
        return
    first, last = int(network.network_address), int(network.broadcast_address)
    where = f"the {what}'s network {network} (gateway {data['gateway']}, netmask {data['netmask']})"
    for key in ("gateway", "start_ip", "end_ip"):
        value = ip_int(data.get(key))
        if value is None:
            continue
        if not first <= value <= last:
            yield Finding(
                place.at(key),
                f"{key} {ip_str(value)} is outside {where}: use an address of {network} or fix the netmask",
            )
        elif network.prefixlen < 31 and value in (first, last):
            kind = "network" if value == first else "broadcast"
            yield Finding(
                place.at(key),
                f"{key} {ip_str(value)} is the {kind} address of {network}: use an address between them",
            )
    gateway = ip_int(data.get("gateway"))
    if gateway is not None and start is not None and end is not None and start <= gateway <= end:
        yield Finding(
            place.at("gateway"),
            f"gateway {ip_str(gateway)} lies inside the range {ip_str(start)}-{ip_str(end)} of this {what}: "
            "the range is handed out to VMs, so leave the gateway out of it",
        )


def _overlaps(ranges: Iterable[tuple[Place, tuple[int, int]]], what: str, advice: str) -> Iterator[Finding]:
    """Each range that overlaps an earlier one (sorted sweep, so it stays linear on big zones)."""
    ordered = sorted(ranges, key=lambda item: item[1])
    reach: tuple[Place, tuple[int, int]] | None = None
    for place, (start, end) in ordered:
        if reach is not None and start <= reach[1][1]:
            other, (ostart, oend) = reach
            yield Finding(
                place.at("start_ip"),
                f"range {ip_str(start)}-{ip_str(end)} overlaps {what} {ip_str(ostart)}-{ip_str(oend)} "
                f"of {format_loc(other.loc)}: {advice}",
            )
        if reach is None or end > reach[1][1]:
            reach = (place, (start, end))


def ranges(doc: Document) -> Iterator[Finding]:
    """Pod, public and guest network ranges: inside their network, in order, without overlaps."""
    for pod in doc.pods:
        yield from _check_range(pod, "pod")
    for zone in doc.zones:
        pods = [(pod, r) for pod in doc.below([zone], "pods") if (r := address_range(pod))]
        yield from _overlaps(pods, "the pod range", "give each pod its own management addresses")
    # Public addresses are routed from outside, so they are unique across zones too.
    public = list(doc.below(doc.below(doc.zones, "physical_networks"), "public_ip_ranges"))
    for item in public:
        yield from _check_range(item, "public IP range")
    spans = [(item, r) for item in public if (r := address_range(item))]
    yield from _overlaps(spans, "the public range", "give each public range its own addresses")
    for network in doc.top("networks"):
        if "gateway" in network.data:
            yield from _check_range(network, "guest network")


def guest_cidr(doc: Document) -> Iterator[Finding]:
    """A zone's guest CIDR must not overlap its pod networks or public ranges (routing would break)."""
    for zone in doc.zones:
        guest = cidr(zone.data.get("guest_cidr"))
        if guest is None:
            continue
        others: list[tuple[str, Network]] = []
        for pod in doc.below([zone], "pods"):
            if (net := network_of(pod.data)) is not None:
                others.append((f"the network {net} of {format_loc(pod.loc)}", net))
        for item in doc.below(doc.below([zone], "physical_networks"), "public_ip_ranges"):
            if (net := network_of(item.data)) is not None:
                others.append((f"the public network {net} of {format_loc(item.loc)}", net))
        for label, net in others:
            if guest.overlaps(net):
                yield Finding(
                    zone.at("guest_cidr"),
                    f"guest_cidr {guest} overlaps {label}: pick a guest CIDR apart from pod and public networks",
                )
                break
