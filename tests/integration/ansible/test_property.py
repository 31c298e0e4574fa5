"""Property: any valid generated topology renders to an inventory the real ansible-inventory reads back exactly."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from provisioner.ansible.inventory import build_inventory
from provisioner.ansible.serialize import serialize
from provisioner.config.loader import load_text
from provisioner.exceptions import ModelError
from tests.integration.ansible.support import ansible_environment, assert_same_inventory, inventory_list

# Names are drawn from sets that collide once sanitised (``z-1``, ``z_1``, ``z.1``), so the
# qualification rule is exercised too. Examples are few and small: each one runs ansible-inventory.

pytestmark = pytest.mark.integration

REGIONS = ["eu", "r-1", "r_1"]
ZONES = ["z-1", "z_1", "z.1", "Z1"]
PODS = ["p-1", "p_1", "p1"]
CLUSTERS = ["c-a", "c_a", "c.a", "kvm"]


def _names(pool: list[str], low: int, high: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=low, max_size=high, unique=True)


@st.composite
def topologies(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid topology document whose names collide after sanitising."""
    regions = draw(_names(REGIONS, 1, 2))
    subnets = itertools.count(1)
    hosts = itertools.count()
    zones: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    for zone_name in draw(_names(ZONES, 1, 3)):
        pods = []
        for pod_name in draw(_names(PODS, 0, 2)):
            net = next(subnets)
            addresses = itertools.count(10)
            clusters = []
            for cluster_name in draw(_names(CLUSTERS, 0, 2)):
                hypervisor = draw(st.sampled_from(["kvm", "simulator"]))
                members = []
                for _ in range(draw(st.integers(0, 3))):
                    host: dict[str, Any] = {"name": f"h{next(hosts)}", "ip": f"198.18.{net}.{next(addresses)}"}
                    if hypervisor == "kvm":
                        host["nics"] = {"net": draw(st.sampled_from(["eth0", "eth1"]))}
                    members.append(host)
                clusters.append({"name": cluster_name, "hypervisor": hypervisor, "hosts": members})
            pods.append(
                {
                    "name": pod_name,
                    "gateway": f"198.18.{net}.1",
                    "netmask": "255.255.255.0",
                    "start_ip": f"198.18.{net}.100",
                    "end_ip": f"198.18.{net}.199",
                    "clusters": clusters,
                }
            )
        zone: dict[str, Any] = {
            "name": zone_name,
            "region": draw(st.sampled_from(regions)),
            "dns": ["198.19.0.53"],
            "internal_dns": ["198.19.0.54"],
            "physical_networks": [
                {
                    "name": "net",
                    "vlan_ranges": ["100-199"],
                    "traffic": [
                        {"type": "management", "kvm_label": "cloudbr0"},
                        {"type": "guest", "kvm_label": "cloudbr1"},
                        {"type": "public", "kvm_label": "cloudbr1"},
                    ],
                }
            ],
            "pods": pods,
        }
        if draw(st.booleans()):
            server = f"nfs-{len(servers)}"
            servers.append({"name": server, "ip": f"198.19.1.{len(servers) + 1}", "zone": zone_name})
            zone["image_stores"] = [{"name": f"images-{len(servers)}", "server": server, "path": "/export/images"}]
            zone["primary_storage"] = [
                {
                    "name": f"primary-{len(servers)}",
                    "protocol": "nfs",
                    "scope": "zone",
                    "hypervisor": "kvm",
                    "server": server,
                    "path": "/export/primary",
                }
            ]
        zones.append(zone)
    return {
        "version": 1,
        "name": "generated",
        "regions": [
            {"name": name, "id": i + 1, "management_servers": [{"name": f"ms-{i}", "ip": f"198.19.0.{i + 10}"}]}
            for i, name in enumerate(regions)
        ],
        "zones": zones,
        "storage_servers": servers,
    }


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=topologies(), fmt=st.sampled_from(["yaml", "ini"]))
def test_ansible_reads_back_exactly_what_we_built(document: dict[str, Any], fmt: str) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        cloud = load_text(text, "generated.yaml")
    except ModelError as exc:
        note(str(exc))
        assume(False)
        raise
    inventory = build_inventory(cloud)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / ("hosts.yml" if fmt == "yaml" else "hosts.ini")
        source.write_text(serialize(inventory, "yaml" if fmt == "yaml" else "ini"))
        listed = inventory_list(source, ansible_environment(Path(work) / "home"))
    assert_same_inventory(inventory, listed)
