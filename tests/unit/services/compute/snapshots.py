"""Hand-built snapshots for the pure planner tests: no database involved."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from provisioner.services.compute.allocator import (
    ClusterCandidate,
    DeploymentRequest,
    HostCandidate,
    PoolCandidate,
    Snapshot,
    VolumeRequest,
)

GIB = 1024**3


def host(id: int, cluster_id: int = 1, **values: Any) -> HostCandidate:
    """A healthy 4 x 2000 MHz, 8 GiB KVM host unless told otherwise."""
    fields: dict[str, Any] = {
        "name": f"h{id}",
        "zone_id": 1,
        "pod_id": 1,
        "status": "Up",
        "resource_state": "Enabled",
        "hypervisor": "KVM",
        "tags": frozenset(),
        "cpu_cores": 4,
        "cpu_speed": 2000,
        "memory": 8 * GIB,
        "cpu_allocated": 0,
        "memory_allocated": 0,
    }
    fields.update(values)
    return HostCandidate(id=id, cluster_id=cluster_id, **fields)


def pool(id: int, cluster_id: int | None = 1, **values: Any) -> PoolCandidate:
    """An Up cluster-scope NFS pool of 1000 GiB unless told otherwise."""
    fields: dict[str, Any] = {
        "name": f"pool{id}",
        "scope": "CLUSTER",
        "state": "Up",
        "pool_type": "NetworkFilesystem",
        "hypervisor": None,
        "zone_id": 1,
        "pod_id": 1,
        "host_id": None,
        "tags": frozenset(),
        "capacity": 1000 * GIB,
        "used": 0,
        "allocated": 0,
    }
    fields.update(values)
    return PoolCandidate(id=id, cluster_id=cluster_id, **fields)


def snapshot(
    hosts: Iterable[HostCandidate],
    pools: Iterable[PoolCandidate] = (),
    *,
    clusters: Mapping[int, dict[str, Any]] | None = None,
    pods: Mapping[int, tuple[str, str]] | None = None,
    zone_state: str = "Enabled",
    account_vms: Mapping[int, int] | None = None,
) -> Snapshot:
    """A snapshot of zone z1 whose cluster sums are computed from ``hosts`` as the loader does."""
    hosts = list(hosts)
    by_cluster: dict[int, list[HostCandidate]] = defaultdict(list)
    for h in hosts:
        assert h.cluster_id is not None
        by_cluster[h.cluster_id].append(h)
    settings = dict(clusters or {})
    built = {}
    for cid in sorted(set(by_cluster) | set(settings)):
        members = by_cluster.get(cid, [])
        opts: dict[str, Any] = {
            "name": f"c{cid}",
            "pod_id": 1,
            "hypervisor": "KVM",
            "allocation_state": "Enabled",
            "cpu_factor": 1.0,
            "mem_factor": 1.0,
            "cpu_threshold": 0.85,
            "mem_threshold": 0.85,
        }
        opts.update(settings.get(cid, {}))
        built[cid] = ClusterCandidate(
            id=cid,
            cpu_total=sum(h.cpu_limit for h in members),
            cpu_allocated=sum(h.cpu_allocated for h in members),
            mem_total=sum(h.mem_limit for h in members),
            mem_allocated=sum(h.memory_allocated for h in members),
            **opts,
        )
    pools = list(pools)
    cluster_pools: dict[int, list[PoolCandidate]] = defaultdict(list)
    local: dict[int, list[PoolCandidate]] = defaultdict(list)
    for p in pools:
        if p.scope == "CLUSTER" and p.cluster_id is not None:
            cluster_pools[p.cluster_id].append(p)
        if p.scope == "HOST" and p.host_id is not None:
            local[p.host_id].append(p)
    return Snapshot(
        zone_id=1,
        zone_name="z1",
        zone_allocation_state=zone_state,
        pods=pods or {1: ("p1", "Enabled")},
        clusters=built,
        hosts={h.id: h for h in hosts},
        hosts_by_cluster={cid: tuple(sorted(items, key=lambda h: h.id)) for cid, items in by_cluster.items()},
        cluster_pools={cid: tuple(items) for cid, items in cluster_pools.items()},
        zone_pools=tuple(p for p in pools if p.scope == "ZONE"),
        local_pools={hid: tuple(items) for hid, items in local.items()},
        account_vms=dict(account_vms or {}),
    )


def request(**values: Any) -> DeploymentRequest:
    """A 2 x 1000 MHz, 2048 MiB VM with a 10 GiB root disk unless told otherwise."""
    fields: dict[str, Any] = {
        "zone_id": 1,
        "cpu_number": 2,
        "cpu_speed": 1000,
        "memory_mib": 2048,
        "account_id": 1,
        "volumes": (VolumeRequest("ROOT", 10 * GIB),),
    }
    fields.update(values)
    return DeploymentRequest(**fields)
