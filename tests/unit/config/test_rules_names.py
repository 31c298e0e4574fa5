"""Duplicate names at every level."""

from __future__ import annotations

import copy
from typing import Any

from provisioner.config import load_topology
from tests.unit.config.helpers import Checker, at, cluster, host, pod, zone


def test_duplicate_host_names_across_the_cloud(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["name"] = "h1"
    check.expect(
        doc,
        "name: ^h1",
        "zones[0].pods[0].clusters[0].hosts[1].name",
        "host name 'h1' is already used by zones[0].pods[0].clusters[0].hosts[0]: host and server names must be "
        "unique in the whole cloud (they are Ansible inventory hostnames); rename one of them",
        nth=2,
    )


def test_host_named_like_a_storage_server(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["name"] = "nfs1"
    check.expect(
        doc,
        "name: ^nfs1",
        "zones[0].pods[0].clusters[0].hosts[1].name",
        "host name 'nfs1' is already used by storage_servers[0]: host and server names must be unique in the "
        "whole cloud (they are Ansible inventory hostnames); rename one of them",
    )


def test_duplicate_pod_names_within_a_zone(check: Checker, doc: dict[str, Any]) -> None:
    second = copy.deepcopy(pod(doc))
    second.update(gateway="198.18.5.1", start_ip="198.18.5.10", end_ip="198.18.5.50", clusters=[])
    zone(doc)["pods"].append(second)
    check.expect(
        doc,
        "name: ^p1",
        "zones[0].pods[1].name",
        "pod name 'p1' is already used by zones[0].pods[0]: pod names must be unique within a zone; rename one of them",
        nth=2,
    )


def test_duplicate_cluster_names_within_a_pod(check: Checker, doc: dict[str, Any]) -> None:
    pod(doc)["clusters"].append({"name": "c1", "hypervisor": "kvm"})
    check.expect(
        doc,
        "name: ^c1",
        "zones[0].pods[0].clusters[1].name",
        "cluster name 'c1' is already used by zones[0].pods[0].clusters[0]: cluster names must be unique within "
        "a pod; rename one of them",
        nth=2,
    )


def test_duplicate_regions_and_templates(check: Checker, doc: dict[str, Any]) -> None:
    doc["regions"].append({"name": "r1", "id": 2, "management_servers": [{"name": "ms2", "ip": "198.18.0.3"}]})
    doc["templates"].append(dict(doc["templates"][0]))
    assert check.lines(doc) == [
        f"{check.file}:{at(check.text, 'name: ^r1', 2)}: regions[1].name: region name 'r1' is already used by "
        "regions[0]: region names must be unique in the cloud; rename one of them",
        f"{check.file}:{at(check.text, 'name: ^debian-12', 2)}: templates[1].name: template name 'debian-12' is "
        "already used by templates[0]: template names must be unique in the cloud; rename one of them",
    ]


def test_duplicate_pools_within_a_zone(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["primary_storage"].append(dict(zone(doc)["primary_storage"][0]))
    check.expect(
        doc,
        "name: ^ps1",
        "zones[0].primary_storage[1].name",
        "primary storage name 'ps1' is already used by zones[0].primary_storage[0]: primary storage names must be "
        "unique within a zone; rename one of them",
        nth=2,
    )


def test_same_cluster_name_in_two_pods_is_fine(check: Checker, doc: dict[str, Any]) -> None:
    second = {"name": "p2", "gateway": "198.18.5.1", "netmask": "255.255.255.0"}
    second |= {"start_ip": "198.18.5.10", "end_ip": "198.18.5.50", "clusters": [{"name": "c1", "hypervisor": "kvm"}]}
    zone(doc)["pods"].append(second)
    cluster(doc)["name"] = "c1"
    check.write(doc)
    assert load_topology(check.file).zones[0].pods[1].clusters[0].name == "c1"


def test_duplicate_management_server_names_across_regions(check: Checker, doc: dict[str, Any]) -> None:
    doc["regions"].append({"name": "r2", "id": 2, "management_servers": [{"name": "ms1", "ip": "198.18.0.3"}]})
    check.expect(
        doc,
        "name: ^ms1",
        "regions[1].management_servers[0].name",
        "management server name 'ms1' is already used by regions[0].management_servers[0]: host and server names "
        "must be unique in the whole cloud (they are Ansible inventory hostnames); rename one of them",
        nth=2,
    )
