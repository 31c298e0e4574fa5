"""IP ranges: in order, inside their network, not overlapping; guest CIDR apart; no address used twice."""

from __future__ import annotations

from typing import Any

from tests.unit.config.helpers import Checker, host, pod, zone


def test_pod_range_ends_before_it_starts(check: Checker, doc: dict[str, Any]) -> None:
    pod(doc)["start_ip"] = "198.18.1.60"
    check.expect(
        doc,
        "start_ip: ^198.18.1.60",
        "zones[0].pods[0].start_ip",
        "start_ip 198.18.1.60 is after end_ip 198.18.1.50 in this pod: swap them",
    )


def test_pod_end_ip_outside_the_pod_network(check: Checker, doc: dict[str, Any]) -> None:
    pod(doc).update(netmask="255.255.255.192", end_ip="198.18.1.70")
    check.expect(
        doc,
        "end_ip: ^198.18.1.70",
        "zones[0].pods[0].end_ip",
        "end_ip 198.18.1.70 is outside the pod's network 198.18.1.0/26 (gateway 198.18.1.1, netmask "
        "255.255.255.192): use an address of 198.18.1.0/26 or fix the netmask",
    )


def test_pod_gateway_is_the_network_address(check: Checker, doc: dict[str, Any]) -> None:
    pod(doc)["gateway"] = "198.18.1.0"
    check.expect(
        doc,
        "gateway: ^198.18.1.0",
        "zones[0].pods[0].gateway",
        "gateway 198.18.1.0 is the network address of 198.18.1.0/24: use an address between them",
    )


def test_pod_gateway_inside_its_range(check: Checker, doc: dict[str, Any]) -> None:
    pod(doc)["gateway"] = "198.18.1.20"
    check.expect(
        doc,
        "gateway: ^198.18.1.20",
        "zones[0].pods[0].gateway",
        "gateway 198.18.1.20 lies inside the range 198.18.1.10-198.18.1.50 of this pod: the range is handed out "
        "to VMs, so leave the gateway out of it",
    )


def test_pod_ranges_overlap_in_a_zone(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["pods"].append(
        {"name": "p2", "gateway": "198.18.1.1", "netmask": "255.255.255.0", "start_ip": "198.18.1.40"}
        | {"end_ip": "198.18.1.90"}
    )
    check.expect(
        doc,
        "start_ip: ^198.18.1.40",
        "zones[0].pods[1].start_ip",
        "range 198.18.1.40-198.18.1.90 overlaps the pod range 198.18.1.10-198.18.1.50 of zones[0].pods[0]: "
        "give each pod its own management addresses",
    )


def test_public_ranges_overlap(check: Checker, doc: dict[str, Any]) -> None:
    ranges = zone(doc)["physical_networks"][0]["public_ip_ranges"]
    ranges.append(dict(ranges[0], start_ip="198.18.2.100", end_ip="198.18.2.200"))
    check.expect(
        doc,
        "start_ip: ^198.18.2.100",
        "zones[0].physical_networks[0].public_ip_ranges[1].start_ip",
        "range 198.18.2.100-198.18.2.200 overlaps the public range 198.18.2.10-198.18.2.100 of "
        "zones[0].physical_networks[0].public_ip_ranges[0]: give each public range its own addresses",
    )


def test_guest_cidr_overlaps_the_pod_network(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["guest_cidr"] = "198.18.0.0/16"
    check.expect(
        doc,
        "guest_cidr: ^198.18.0.0/16",
        "zones[0].guest_cidr",
        "guest_cidr 198.18.0.0/16 overlaps the network 198.18.1.0/24 of zones[0].pods[0]: pick a guest CIDR apart "
        "from pod and public networks",
    )


def test_malformed_cidr(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["guest_cidr"] = "10.1.0.1/16"
    check.expect(
        doc,
        "guest_cidr: ^10.1.0.1/16",
        "zones[0].guest_cidr",
        "10.1.0.1/16 is not an IPv4 network in CIDR form (like 10.1.0.0/16): 10.1.0.1/16 has host bits set",
    )


def test_same_ip_on_a_host_and_a_bmc(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["ip"] = "198.18.3.101"
    check.expect(
        doc,
        "ip: ^198.18.3.101",
        "zones[0].pods[0].clusters[0].hosts[1].ip",
        "IP 198.18.3.101 is already used by zones[0].pods[0].clusters[0].hosts[0].bmc.address: every host, server "
        "and BMC needs an address of its own",
    )


def test_host_ip_inside_the_system_vm_range(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["ip"] = "198.18.1.20"
    check.expect(
        doc,
        "ip: ^198.18.1.20",
        "zones[0].pods[0].clusters[0].hosts[1].ip",
        "host IP 198.18.1.20 lies inside the system-VM range 198.18.1.10-198.18.1.50 of zones[0].pods[0]: "
        "CloudStack hands those addresses to system VMs; move the host or shrink the range",
    )


def test_guest_network_range_outside_its_network(check: Checker, doc: dict[str, Any]) -> None:
    doc["networks"][0]["end_ip"] = "198.18.5.1"
    check.expect(
        doc,
        "end_ip: ^198.18.5.1",
        "networks[0].end_ip",
        "end_ip 198.18.5.1 is outside the guest network's network 198.18.4.0/24 (gateway 198.18.4.1, netmask "
        "255.255.255.0): use an address of 198.18.4.0/24 or fix the netmask",
    )


def test_public_ranges_overlap_across_zones(check: Checker, doc: dict[str, Any]) -> None:
    second = {"name": "z2", "region": "r1", "dns": ["198.18.0.53"], "internal_dns": ["198.18.0.54"]}
    second["physical_networks"] = [
        {
            "name": "pn2",
            "traffic": [{"type": "management"}, {"type": "guest"}, {"type": "public"}],
            "public_ip_ranges": [dict(zone(doc)["physical_networks"][0]["public_ip_ranges"][0], vlan=None)],
        }
    ]
    doc["zones"].append(second)
    check.expect(
        doc,
        "start_ip: ^198.18.2.10",
        "zones[1].physical_networks[0].public_ip_ranges[0].start_ip",
        "range 198.18.2.10-198.18.2.100 overlaps the public range 198.18.2.10-198.18.2.100 of "
        "zones[0].physical_networks[0].public_ip_ranges[0]: give each public range its own addresses",
        nth=2,
    )
