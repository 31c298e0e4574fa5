"""Primary storage scope, protocol fields, and the storage servers pools and image stores name."""

from __future__ import annotations

from typing import Any

from provisioner.config import load_topology
from tests.unit.config.helpers import Checker, at, zone


def pool(doc: dict[str, Any]) -> dict[str, Any]:
    """The zone's NFS pool."""
    result: dict[str, Any] = zone(doc)["primary_storage"][0]
    return result


def test_zone_scope_on_xenserver(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc)["hypervisor"] = "XenServer"
    check.expect(
        doc,
        "hypervisor: ^XenServer",
        "zones[0].primary_storage[0].hypervisor",
        "xenserver cannot use zone-wide primary storage (only kvm, vmware, hyperv, simulator can): use scope: cluster "
        "with cluster: <name>",
    )


def test_zone_scope_needs_a_hypervisor(check: Checker, doc: dict[str, Any]) -> None:
    del pool(doc)["hypervisor"]
    check.expect(
        doc,
        "name: ps1",
        "zones[0].primary_storage[0].hypervisor",
        "a zone-scope pool needs hypervisor: add hypervisor: kvm (or another)",
    )


def test_cluster_scope_names_a_cluster_not_in_the_zone(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc).update(scope="cluster", cluster="c2")
    del pool(doc)["hypervisor"]
    check.expect(
        doc,
        "cluster: ^c2",
        "zones[0].primary_storage[0].cluster",
        "cluster 'c2' is not a cluster of zone 'z1': name one of its clusters, or use scope: zone with a hypervisor "
        "(defined: c1)",
    )


def test_cluster_scope_names_an_unknown_pod(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc).update(scope="cluster", cluster="c1", pod="pod1")
    del pool(doc)["hypervisor"]
    check.expect(
        doc,
        "pod: ^pod1",
        "zones[0].primary_storage[0].pod",
        "pod 'pod1' is not a pod of zone 'z1': name one of its pods (did you mean 'p1'?)",
    )


def test_host_scope_names_an_unknown_host(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["local_storage_enabled"] = True
    zone(doc)["primary_storage"].append({"name": "local1", "protocol": "local", "host": "h9", "path": "/var/lib/vm"})
    check.expect(
        doc,
        "host: ^h9",
        "zones[0].primary_storage[1].host",
        "host 'h9' is not a host of zone 'z1': name one of its hosts (defined: h1, h2)",
    )


def test_local_storage_is_host_scope_only(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["local_storage_enabled"] = True
    zone(doc)["primary_storage"].append({"name": "local1", "protocol": "local", "scope": "cluster", "cluster": "c1"})
    check.expect(
        doc,
        "scope: ^cluster",
        "zones[0].primary_storage[1].scope",
        "local storage belongs to one host: use scope: host (or leave scope out) with host: <name>",
    )


def test_nfs_pool_needs_an_absolute_path(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc)["path"] = "export/primary"
    check.expect(
        doc,
        "path: ^export/primary",
        "zones[0].primary_storage[0].path",
        "path 'export/primary' is not absolute: write it from the root, like /export/primary",
    )


def test_iscsi_pool_needs_iqn_and_lun(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc).update(protocol="iscsi", path=None)
    assert check.lines(doc) == [
        f"{check.file}:{at(check.text, 'name: ps1')}: zones[0].primary_storage[0].iqn: an iscsi pool needs iqn: "
        "add iqn: iqn.2024-01.org.example:pool1",
        f"{check.file}:{at(check.text, 'name: ps1')}: zones[0].primary_storage[0].lun: an iscsi pool needs lun: "
        "add lun: 0",
    ]


def test_fc_pool_needs_a_path(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc).update(protocol="fc", server=None, path=None)
    check.expect(
        doc,
        "path: ^null",
        "zones[0].primary_storage[0].path",
        "an fc pool needs path: add path: /export/primary",
    )


def test_server_is_neither_a_storage_server_nor_an_address(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["image_stores"][0]["server"] = "nfs2"
    check.expect(
        doc,
        "server: ^nfs2",
        "zones[0].image_stores[0].server",
        "server 'nfs2' is not a storage server of this file, an IP address or a DNS name: define it under "
        "storage_servers or write its address (did you mean 'nfs1'?)",
    )


def test_server_may_be_an_address_or_a_dns_name(check: Checker, doc: dict[str, Any]) -> None:
    pool(doc)["server"] = "198.18.0.11"
    zone(doc)["image_stores"][0]["server"] = "nfs.example.org"
    assert load_topology(check.write(doc)).zones[0].image_stores[0].server == "nfs.example.org"


def test_local_storage_needs_the_zone_to_enable_it(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["primary_storage"].append({"name": "local1", "protocol": "local", "host": "h1", "path": "/var/lib/vm"})
    check.expect(
        doc,
        "protocol: ^local",
        "zones[0].primary_storage[1].protocol",
        "zone 'z1' does not enable local storage, so CloudStack would not use this pool: set local_storage_enabled: "
        "true on the zone",
    )


def test_image_store_path_must_be_absolute(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["image_stores"][0]["path"] = "export/secondary"
    check.expect(
        doc,
        "path: ^export/secondary",
        "zones[0].image_stores[0].path",
        "'export/secondary' is not a valid path: write an absolute path, starting with /",
    )
