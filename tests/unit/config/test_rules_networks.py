"""Traffic types, VLANs, and the physical networks, zones and offerings that names refer to."""

from __future__ import annotations

from typing import Any

from tests.unit.config.helpers import Checker, host, zone


def physnet(doc: dict[str, Any]) -> dict[str, Any]:
    """The zone's physical network."""
    result: dict[str, Any] = zone(doc)["physical_networks"][0]
    return result


def test_traffic_type_listed_twice(check: Checker, doc: dict[str, Any]) -> None:
    physnet(doc)["traffic"].append({"type": "Guest"})
    check.expect(
        doc,
        "type: ^Guest",
        "zones[0].physical_networks[0].traffic[3].type",
        "traffic type guest is already listed at zones[0].physical_networks[0].traffic[1]: list each traffic type "
        "once per physical network",
    )


def test_advanced_zone_without_public_traffic(check: Checker, doc: dict[str, Any]) -> None:
    physnet(doc)["traffic"].pop()
    check.expect(
        doc,
        "^- name: pn1",
        "zones[0].physical_networks",
        "an Advanced zone needs public traffic, which no physical network of this zone carries: add it to a "
        "physical network's traffic list",
    )


def test_basic_zone_without_guest_traffic(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["network_type"] = "Basic"
    physnet(doc)["traffic"] = [{"type": "management"}, {"type": "public"}]
    check.expect(
        doc,
        "^- name: pn1",
        "zones[0].physical_networks",
        "a Basic zone needs guest traffic, which no physical network of this zone carries: add it to a physical "
        "network's traffic list",
    )


def test_guest_network_vlan_outside_the_physical_network_ranges(check: Checker, doc: dict[str, Any]) -> None:
    doc["networks"][0]["vlan"] = 250
    check.expect(
        doc,
        "vlan: ^250",
        "networks[0].vlan",
        "VLAN 250 is outside the VLAN ranges of physical network zones[0].physical_networks[0] (100-199): pick a "
        "VLAN in them or widen vlan_ranges",
    )


def test_public_vlan_inside_the_guest_ranges(check: Checker, doc: dict[str, Any]) -> None:
    physnet(doc)["public_ip_ranges"][0]["vlan"] = 120
    check.expect(
        doc,
        "vlan: ^120",
        "zones[0].physical_networks[0].public_ip_ranges[0].vlan",
        "public VLAN 120 is inside the guest VLAN range 100-199 of zones[0].physical_networks[0]: guest networks "
        "would take it too; pick a VLAN outside the guest ranges",
    )


def test_host_nic_names_an_unknown_physical_network(check: Checker, doc: dict[str, Any]) -> None:
    host(doc)["nics"] = {"pn2": "eth1"}
    check.expect(
        doc,
        "^pn2: eth1",
        "zones[0].pods[0].clusters[0].hosts[0].nics.pn2",
        "nics names physical network 'pn2', which zone 'z1' does not define: use the name of one of its "
        "physical_networks (did you mean 'pn1'?)",
    )


def test_guest_network_names_an_unknown_zone(check: Checker, doc: dict[str, Any]) -> None:
    doc["networks"][0]["zone"] = "zone1"
    check.expect(
        doc,
        "zone: ^zone1",
        "networks[0].zone",
        "zone 'zone1' is not defined: use the name of one of the zones (defined: z1)",
    )


def test_guest_network_names_an_unknown_physical_network(check: Checker, doc: dict[str, Any]) -> None:
    doc["networks"][0]["physical_network"] = "pn9"
    check.expect(
        doc,
        "physical_network: ^pn9",
        "networks[0].physical_network",
        "physical network 'pn9' is not defined in zone 'z1': use the name of one of its physical_networks "
        "(did you mean 'pn1'?)",
    )


def test_guest_network_names_an_unknown_offering(check: Checker, doc: dict[str, Any]) -> None:
    doc["networks"][0]["offering"] = "DefaultSharedNetworkOfering"
    check.expect(
        doc,
        "offering: ^DefaultSharedNetworkOfering",
        "networks[0].offering",
        "network offering 'DefaultSharedNetworkOfering' is neither a stock CloudStack offering nor one of "
        "network_offerings: use one of them or define it (did you mean 'DefaultSharedNetworkOffering'?)",
    )


def test_offering_of_the_file_is_known(check: Checker, doc: dict[str, Any]) -> None:
    from provisioner.config import load_topology

    doc["networks"][0]["offering"] = "custom-shared"
    assert load_topology(check.write(doc)).networks[0].offering == "custom-shared"
