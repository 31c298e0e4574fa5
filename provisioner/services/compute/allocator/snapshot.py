"""Read a zone into a :class:`Snapshot`: a fixed number of statements, whatever the zone's size.

Over-provisioning factors and cluster thresholds are resolved inside the statements
(``scoped_float_expr``), so clusters with their own values cost nothing extra.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, select

from provisioner.db.schema import cluster, host, host_tag, pod, storage_pool, storage_pool_tag, vm_instance, zone
from provisioner.exceptions import ParamError
from provisioner.services.compute.allocator.model import (
    HOST_ENABLED,
    HOST_UP,
    ClusterCandidate,
    DeploymentRequest,
    HostCandidate,
    PoolCandidate,
    Snapshot,
)
from provisioner.services.compute.states import HOLDS_HOST
from provisioner.services.configuration import scoped_float, scoped_float_expr
from provisioner.services.infrastructure.capacity import cpu_factor, memory_factor, storage_factor
from provisioner.services.infrastructure.settings import (
    CLUSTER_CPU_THRESHOLD,
    CLUSTER_MEMORY_THRESHOLD,
    POOL_ALLOCATED_THRESHOLD,
    POOL_USED_THRESHOLD,
)

#: ``HOLDS_HOST`` as column values, for the account's running VMs (``userdispersing``).
_HOLDING = sorted(state.value for state in HOLDS_HOST)


def _tags(conn: Connection, link: Any, owner: Any, key: str, zone_id: int) -> dict[int, frozenset[str]]:
    rows = conn.execute(
        select(link.c[key], link.c.tag).join(owner, owner.c.id == link.c[key]).where(owner.c.zone_id == zone_id)
    )
    grouped: dict[int, set[str]] = defaultdict(set)
    for owner_id, tag in rows:
        grouped[owner_id].add(tag)
    return {owner_id: frozenset(tags) for owner_id, tags in grouped.items()}


def _clusters(conn: Connection, zone_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(
                cluster.c.id,
                cluster.c.name,
                cluster.c.pod_id,
                cluster.c.hypervisor_type,
                cluster.c.allocation_state,
                cpu_factor(cluster.c.id).label("cpu_factor"),
                memory_factor(cluster.c.id).label("mem_factor"),
                scoped_float_expr(CLUSTER_CPU_THRESHOLD, "cluster", cluster.c.id).label("cpu_threshold"),
                scoped_float_expr(CLUSTER_MEMORY_THRESHOLD, "cluster", cluster.c.id).label("mem_threshold"),
            ).where(cluster.c.zone_id == zone_id, cluster.c.removed.is_(None))
        )
    )


def _hosts(
    conn: Connection, request: DeploymentRequest, factors: dict[int, tuple[float, float]], all_tags: bool
) -> list[HostCandidate]:
    query = select(
        host.c.id,
        host.c.name,
        host.c.zone_id,
        host.c.pod_id,
        host.c.cluster_id,
        host.c.status,
        host.c.resource_state,
        host.c.hypervisor_type,
        host.c.cpu_cores,
        host.c.cpu_speed,
        host.c.memory,
        host.c.cpu_allocated,
        host.c.memory_allocated,
    ).where(host.c.zone_id == request.zone_id, host.c.removed.is_(None), host.c.type == "Routing")
    if request.host_id is not None:
        query = query.where(host.c.id.in_([request.host_id, request.last_host_id or request.host_id]))
    elif request.cluster_id is not None:
        query = query.where(host.c.cluster_id == request.cluster_id)
    elif request.pod_id is not None:
        query = query.where(host.c.pod_id == request.pod_id)
    # Tags matter only to a request that asks for some (the empty set fits every host).
    tags = _tags(conn, host_tag, host, "host_id", request.zone_id) if request.host_tags or all_tags else {}
    none: frozenset[str] = frozenset()
    hosts = []
    # Tuple unpacking, not ``row.name`` lookups: with 10,000 hosts this loop is most of a snapshot read.
    for (
        hid,
        name,
        zone_id,
        pod_id,
        cluster_id,
        status,
        state,
        hypervisor,
        cores,
        speed,
        memory,
        cpu,
        mem,
    ) in conn.execute(query.order_by(host.c.id)):
        cpu_f, mem_f = factors.get(cluster_id, (1.0, 1.0))
        hosts.append(
            HostCandidate(
                hid,
                name,
                zone_id,
                pod_id,
                cluster_id,
                status,
                state,
                hypervisor,
                tags.get(hid, none),
                cores,
                speed,
                memory,
                cpu,
                mem,
                cpu_f,
                mem_f,
            )
        )
    return hosts


def _pools(conn: Connection, zone_id: int, with_tags: bool) -> list[PoolCandidate]:
    used_threshold = scoped_float(conn, POOL_USED_THRESHOLD, "zone", zone_id)
    allocated_threshold = scoped_float(conn, POOL_ALLOCATED_THRESHOLD, "zone", zone_id)
    tags = _tags(conn, storage_pool_tag, storage_pool, "pool_id", zone_id) if with_tags else {}
    rows = conn.execute(
        select(storage_pool, storage_factor(storage_pool.c.id, storage_pool.c.pool_type).label("factor"))
        .where(storage_pool.c.zone_id == zone_id, storage_pool.c.removed.is_(None))
        .order_by(storage_pool.c.id)
    )
    return [
        PoolCandidate(
            id=r.id,
            name=r.name,
            scope=r.scope,
            state=r.state,
            pool_type=r.pool_type,
            hypervisor=r.hypervisor_type,
            zone_id=r.zone_id,
            pod_id=r.pod_id,
            cluster_id=r.cluster_id,
            host_id=r.host_id,
            tags=tags.get(r.id, frozenset()),
            capacity=r.capacity_bytes,
            used=r.used_bytes,
            allocated=r.allocated_bytes,
            factor=float(r.factor),
            used_threshold=used_threshold,
            allocated_threshold=allocated_threshold,
        )
        for r in rows
    ]


def _account_vms(conn: Connection, zone_id: int, account_id: int) -> dict[int, int]:
    rows = conn.execute(
        select(vm_instance.c.host_id, func.count())
        .where(
            vm_instance.c.zone_id == zone_id,
            vm_instance.c.account_id == account_id,
            vm_instance.c.state.in_(_HOLDING),
            vm_instance.c.host_id.is_not(None),
        )
        .group_by(vm_instance.c.host_id)
    )
    return {int(host_id): int(count) for host_id, count in rows}


def load_snapshot(
    conn: Connection, request: DeploymentRequest, *, with_account_vms: bool = False, all_tags: bool = False
) -> Snapshot:
    """Read the request's zone (narrowed to a pod, cluster or host hint) for the planners.

    Host and pool tags are read only when the request asks for tags, unless ``all_tags`` (a
    snapshot meant to serve other requests too, as in the benchmark).

    Raises:
        ParamError: the zone does not exist (431).
    """
    zone_row = conn.execute(
        select(zone.c.name, zone.c.allocation_state).where(zone.c.id == request.zone_id, zone.c.removed.is_(None))
    ).first()
    if zone_row is None:
        raise ParamError(f"Unable to find zone by id {request.zone_id}")
    pods = {
        r.id: (r.name, r.allocation_state)
        for r in conn.execute(
            select(pod.c.id, pod.c.name, pod.c.allocation_state).where(
                pod.c.zone_id == request.zone_id, pod.c.removed.is_(None)
            )
        )
    }
    cluster_rows = _clusters(conn, request.zone_id)
    factors = {r.id: (float(r.cpu_factor), float(r.mem_factor)) for r in cluster_rows}
    hosts = _hosts(conn, request, factors, all_tags)
    by_cluster: dict[int, list[HostCandidate]] = defaultdict(list)
    for candidate in hosts:
        if candidate.cluster_id is not None:
            by_cluster[candidate.cluster_id].append(candidate)
    clusters = {}
    for r in cluster_rows:
        # Totals count hosts that can take VMs; a host that is down or in maintenance offers nothing.
        usable = [h for h in by_cluster.get(r.id, ()) if h.status == HOST_UP and h.resource_state == HOST_ENABLED]
        clusters[r.id] = ClusterCandidate(
            id=r.id,
            name=r.name,
            pod_id=r.pod_id,
            hypervisor=r.hypervisor_type,
            allocation_state=r.allocation_state,
            cpu_factor=float(r.cpu_factor),
            mem_factor=float(r.mem_factor),
            cpu_threshold=float(r.cpu_threshold),
            mem_threshold=float(r.mem_threshold),
            cpu_total=sum(h.cpu_cores * h.cpu_speed * h.cpu_factor for h in usable),
            cpu_allocated=sum(h.cpu_allocated for h in usable),
            mem_total=sum(h.memory * h.mem_factor for h in usable),
            mem_allocated=sum(h.memory_allocated for h in usable),
        )
    pools = _pools(conn, request.zone_id, all_tags or any(v.tags for v in request.volumes))
    cluster_pools: dict[int, list[PoolCandidate]] = defaultdict(list)
    local_pools: dict[int, list[PoolCandidate]] = defaultdict(list)
    for p in pools:
        if p.scope == "CLUSTER" and p.cluster_id is not None:
            cluster_pools[p.cluster_id].append(p)
        elif p.scope == "HOST" and p.host_id is not None:
            local_pools[p.host_id].append(p)
    return Snapshot(
        zone_id=request.zone_id,
        zone_name=zone_row.name,
        zone_allocation_state=zone_row.allocation_state,
        pods=pods,
        clusters=clusters,
        hosts={h.id: h for h in hosts},
        hosts_by_cluster={cid: tuple(items) for cid, items in by_cluster.items()},
        cluster_pools={cid: tuple(items) for cid, items in cluster_pools.items()},
        zone_pools=tuple(p for p in pools if p.scope == "ZONE"),
        local_pools={hid: tuple(items) for hid, items in local_pools.items()},
        account_vms=_account_vms(conn, request.zone_id, request.account_id) if with_account_vms else {},
    )
