"""Clusters and hosts: one hypervisor per cluster, and what each hypervisor needs."""

from __future__ import annotations

from typing import Any

from provisioner.config import load_topology
from tests.unit.config.helpers import Checker, cluster, host


def test_host_hypervisor_differs_from_its_cluster(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["hypervisor"] = "VMware"
    check.expect(
        doc,
        "hypervisor: ^VMware",
        "zones[0].pods[0].clusters[0].hosts[1].hypervisor",
        "hypervisor vmware differs from kvm of its cluster zones[0].pods[0].clusters[0]: a cluster has one "
        "hypervisor; remove the key or move the host to a matching cluster",
    )


def test_non_simulator_host_needs_an_ip(check: Checker, doc: dict[str, Any]) -> None:
    del host(doc, 1)["ip"]
    check.expect(
        doc,
        "name: h2",
        "zones[0].pods[0].clusters[0].hosts[1].ip",
        "a kvm host needs an ip (only simulator hosts may leave it out): add ip: <management address>",
    )


def test_simulator_host_may_leave_out_its_ip(check: Checker, doc: dict[str, Any]) -> None:
    cluster(doc)["hypervisor"] = "simulator"
    del host(doc, 1)["ip"]
    assert load_topology(check.write(doc)).zones[0].pods[0].clusters[0].hosts[1].ip is None


def test_vmware_cluster_needs_a_vcenter(check: Checker, doc: dict[str, Any]) -> None:
    cluster(doc)["hypervisor"] = "vmware"
    doc["templates"][0].update(format="ova", hypervisor="vmware")
    check.expect(
        doc,
        "name: c1",
        "zones[0].pods[0].clusters[0].vcenter",
        "a vmware cluster needs vcenter: add vcenter: {host: ..., datacenter: ..., credentials: {env: ...}}",
    )


def test_xenserver_pool_master_is_one_of_its_hosts(check: Checker, doc: dict[str, Any]) -> None:
    cluster(doc).update(hypervisor="xenserver", pool_master="h3")
    zone_pools = doc["zones"][0]["primary_storage"]
    zone_pools[0].update(scope="cluster", cluster="c1", hypervisor=None)
    doc["templates"][0].update(format="vhd", hypervisor="xenserver")
    check.expect(
        doc,
        "pool_master: ^h3",
        "zones[0].pods[0].clusters[0].pool_master",
        "pool_master 'h3' is not a host of this cluster: name one of its hosts (defined: h1, h2)",
    )


def test_pool_master_on_a_kvm_cluster(check: Checker, doc: dict[str, Any]) -> None:
    cluster(doc)["pool_master"] = "h1"
    check.expect(
        doc,
        "pool_master: ^h1",
        "zones[0].pods[0].clusters[0].pool_master",
        "pool_master is only for xenserver clusters, not kvm: remove it",
    )
