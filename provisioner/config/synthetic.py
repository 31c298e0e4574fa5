"""Deterministic synthetic topologies of any size, for benchmarks and property tests."""

from __future__ import annotations

import ipaddress
from typing import Any

# Management servers, storage servers and public ranges come from the benchmark range
# 198.18.0.0/15 (RFC 2544); hosts and BMCs outnumber it, so they use 10.0.0.0/8. Nothing is
# ever contacted: these addresses only have to be well-formed and unique.
_BENCH = ipaddress.IPv4Network("198.18.0.0/15")
_SERVERS = 65536 + 10  # 198.19.0.10 and up: management servers, then storage servers
_MAX_ZONES = 100  # one 10.<zone>.0.0/16 per zone for hosts, 10.<100 + zone>.0.0/16 for BMCs
_MAX_PODS = 15  # one /20 per pod inside the zone's /16
_MAX_CLUSTERS = 14  # one /24 per cluster inside the pod's /20 (the first /24 holds the system-VM range)
_MAX_HOSTS = 240


def _bench_ip(offset: int) -> str:
    if offset >= _BENCH.num_addresses:
        raise ValueError("too many zones for 198.18.0.0/15: use fewer regions or zones")
    return str(_BENCH.network_address + offset)


def _check_sizes(regions: int, zones_per_region: int, pods: int, clusters: int, hosts: int) -> None:
    limits = {
        "regions x zones_per_region": (regions * zones_per_region, _MAX_ZONES),
        "pods": (pods, _MAX_PODS),
        "clusters": (clusters, _MAX_CLUSTERS),
        "hosts": (hosts, _MAX_HOSTS),
    }
    for what, (value, limit) in limits.items():
        if not 0 < value <= limit:
            raise ValueError(f"{what} must be between 1 and {limit}, not {value}")


def _host(zone_no: int, pod: int, cluster: int, host: int, name: str) -> dict[str, Any]:
    third = pod * 16 + 1 + cluster
    return {
        "name": name,
        "ip": f"10.{zone_no}.{third}.{host + 10}",
        "nics": {"physnet0": "eth0"},
        "bmc": {"address": f"10.{100 + zone_no}.{third}.{host + 10}"},
    }


def _pod(zone_no: int, zone_name: str, pod: int, clusters: int, hosts: int) -> dict[str, Any]:
    base = pod * 16
    pod_name = f"{zone_name}-p{pod}"
    return {
        "name": pod_name,
        "gateway": f"10.{zone_no}.{base}.1",
        "netmask": "255.255.240.0",
        "start_ip": f"10.{zone_no}.{base}.10",
        "end_ip": f"10.{zone_no}.{base}.250",
        "clusters": [
            {
                "name": f"{pod_name}-c{c}",
                "hypervisor": "kvm",
                "hosts": [_host(zone_no, pod, c, h, f"{pod_name}-c{c}-h{h}") for h in range(hosts)],
            }
            for c in range(clusters)
        ],
    }


def _zone(region_name: str, zone_no: int, name: str, *, pods: int, clusters: int, hosts: int) -> dict[str, Any]:
    public = zone_no * 256  # one /24 of 198.18.0.0/15 per zone
    return {
        "name": name,
        "region": region_name,
        "network_type": "Advanced",
        "dns": ["198.18.255.53"],
        "internal_dns": ["198.18.255.54"],
        "guest_cidr": "172.16.0.0/16",
        "physical_networks": [
            {
                "name": "physnet0",
                "vlan_ranges": ["100-999"],
                "traffic": [
                    {"type": "management", "kvm_label": "cloudbr0"},
                    {"type": "guest", "kvm_label": "cloudbr1"},
                    {"type": "public", "kvm_label": "cloudbr1"},
                ],
                "public_ip_ranges": [
                    {
                        "gateway": _bench_ip(public + 1),
                        "netmask": "255.255.255.0",
                        "start_ip": _bench_ip(public + 10),
                        "end_ip": _bench_ip(public + 250),
                        "vlan": 50,
                    }
                ],
            }
        ],
        "pods": [_pod(zone_no, name, p, clusters, hosts) for p in range(pods)],
        "primary_storage": [
            {
                "name": f"{name}-primary",
                "protocol": "nfs",
                "scope": "zone",
                "hypervisor": "kvm",
                "server": f"{name}-nfs",
                "path": "/export/primary",
            }
        ],
        "image_stores": [{"name": f"{name}-images", "server": f"{name}-nfs", "path": "/export/secondary"}],
    }


def make_topology(regions: int, zones_per_region: int, pods: int, clusters: int, hosts: int) -> dict[str, Any]:
    """Build a valid topology document of ``regions * zones_per_region * pods * clusters * hosts`` KVM hosts.

    The result is plain data, as ``yaml.safe_load`` returns it; dump it with ``yaml.safe_dump`` to
    get a file. The same arguments always give the same document.

    Args:
        regions: number of regions, each with one management server.
        zones_per_region: zones in every region (each with one NFS storage server).
        pods: pods in every zone (at most 15).
        clusters: KVM clusters in every pod (at most 14).
        hosts: hosts in every cluster (at most 240).

    Returns:
        The topology document as nested dicts and lists.

    Raises:
        ValueError: a count is out of range (the address plan needs ``regions * zones_per_region <= 100``).
    """
    _check_sizes(regions, zones_per_region, pods, clusters, hosts)
    zones: list[dict[str, Any]] = []
    storage_servers: list[dict[str, Any]] = []
    for r in range(regions):
        for z in range(zones_per_region):
            zone_no = r * zones_per_region + z
            name = f"r{r}-z{z}"
            zones.append(_zone(f"region{r}", zone_no, name, pods=pods, clusters=clusters, hosts=hosts))
            storage_servers.append({"name": f"{name}-nfs", "ip": _bench_ip(_SERVERS + 1024 + zone_no), "zone": name})
    return {
        "version": 1,
        "name": "synthetic",
        "regions": [
            {
                "name": f"region{r}",
                "id": r + 1,
                "management_servers": [{"name": f"ms{r}", "ip": _bench_ip(_SERVERS + r)}],
            }
            for r in range(regions)
        ],
        "zones": zones,
        "storage_servers": storage_servers,
        "service_offerings": [{"name": "small", "cpu_number": 1, "cpu_speed": 1000, "memory": 1024}],
        "disk_offerings": [{"name": "20GB", "disk_size": 20}],
        "templates": [
            {
                "name": "debian-12",
                "url": "http://198.18.255.80/debian-12.qcow2",
                "format": "qcow2",
                "hypervisor": "kvm",
                "os_type": "Debian GNU/Linux 12 (64-bit)",
            }
        ],
    }
