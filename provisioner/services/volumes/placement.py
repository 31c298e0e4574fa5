"""Placing one volume on a primary pool, reusing the deployment allocator's snapshot, filters and reservation.

CloudStack's storage pool allocators run on their own when a data volume is first attached (or made
from a snapshot): the pools a host reaches, filtered by state, storage tags and thresholds, ordered by
the planner's algorithm, and reserved with the same conditional ``UPDATE`` a deployment uses, so a
volume can never push a pool past ``capacity * storage.overprovisioning.factor * threshold``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from sqlalchemy import Connection

from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute.allocator import (
    DeploymentRequest,
    ExcludeList,
    HostCandidate,
    PoolCandidate,
    Snapshot,
    VolumeRequest,
    load_snapshot,
    release_pool,
    reserve_pool,
)
from provisioner.services.compute.allocator.filters import pool_reachable, pool_rejection
from provisioner.services.compute.allocator.model import GIB
from provisioner.services.compute.allocator.planners import order_pools
from provisioner.services.compute.settings import planner_settings


def _zone_snapshot(
    conn: Connection,
    zone_id: int,
    account_id: int,
    volume: VolumeRequest,
    *,
    host_id: int | None = None,
    cluster_id: int | None = None,
) -> Snapshot:
    request = DeploymentRequest(
        zone_id=zone_id,
        cpu_number=1,
        cpu_speed=1,
        memory_mib=1,
        account_id=account_id,
        volumes=(volume,),
        host_id=host_id,
        cluster_id=cluster_id,
        is_root_admin=True,
    )
    return load_snapshot(conn, request)


def _reference_hosts(snapshot: Snapshot, host_id: int | None, cluster_id: int | None) -> list[HostCandidate]:
    """The hosts whose reach decides the pools: the VM's host, else one host per cluster in scope."""
    if host_id is not None:
        found = snapshot.hosts.get(host_id)
        return [found] if found is not None else []
    chosen = []
    for cid, hosts in snapshot.hosts_by_cluster.items():
        if cluster_id is None or cid == cluster_id:
            chosen.append(hosts[0])
    return chosen


def _reachable(snapshot: Snapshot, host: HostCandidate, volume: VolumeRequest) -> Iterable[PoolCandidate]:
    if volume.local:
        return snapshot.local_pools.get(host.id, ())
    cluster_pools = snapshot.cluster_pools.get(host.cluster_id, ()) if host.cluster_id is not None else ()
    return (*cluster_pools, *snapshot.zone_pools)


def reserve_volume_pool(
    conn: Connection,
    volume: VolumeRequest,
    *,
    zone_id: int,
    account_id: int,
    host_id: int | None = None,
    cluster_id: int | None = None,
    rng: random.Random | None = None,
) -> int:
    """Choose a pool for ``volume`` that ``host_id`` (or a host of ``cluster_id``, or of the zone) reaches,
    and reserve its size there, in the caller's transaction.

    Returns:
        The pool's internal id.

    Raises:
        InsufficientCapacityError: no reachable pool can hold it; the text says why per pool (533).
    """
    snapshot = _zone_snapshot(conn, zone_id, account_id, volume, host_id=host_id, cluster_id=cluster_id)
    settings = planner_settings(conn)
    exclude = ExcludeList()
    reasons: dict[str, set[int]] = {}
    seen: set[int] = set()
    for host in _reference_hosts(snapshot, host_id, cluster_id):
        candidates = [p for p in _reachable(snapshot, host, volume) if p.id not in seen]
        candidates = [p for p in candidates if pool_reachable(p, host, volume)]
        for pool in order_pools(candidates, settings, rng or random.Random()):
            seen.add(pool.id)
            reason = pool_rejection(pool, volume, 0, exclude)
            if reason is None:
                if reserve_pool(conn, pool, volume.size):
                    return pool.id
                reason = "filled by a concurrent operation"
                exclude.pools.add(pool.id)
            reasons.setdefault(reason, set()).add(pool.id)
    where = f"zone {snapshot.zone_name}"
    size = f"{volume.size / GIB:g} GiB"
    if not reasons:
        raise InsufficientCapacityError(
            f"No storage pool in {where} is reachable for volume {volume.name} ({size}): add primary storage "
            "to the VM's cluster or zone"
        )
    detail = ", ".join(
        f"{len(ids)} pool{'s' if len(ids) != 1 else ''} {reason}"
        for reason, ids in sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))
    )
    raise InsufficientCapacityError(f"No storage pool in {where} can hold volume {volume.name} ({size}): {detail}")


def pool_candidate(
    conn: Connection, pool_id: int, zone_id: int, account_id: int, cluster_id: int | None
) -> PoolCandidate:
    """The allocator's view of one pool (factor and thresholds resolved)."""
    snapshot = _zone_snapshot(conn, zone_id, account_id, VolumeRequest("probe", 0), cluster_id=cluster_id)
    pools = [*snapshot.zone_pools]
    for group in (*snapshot.cluster_pools.values(), *snapshot.local_pools.values()):
        pools.extend(group)
    for pool in pools:
        if pool.id == pool_id:
            return pool
    raise InsufficientCapacityError(f"Storage pool {pool_id} is not in zone {snapshot.zone_name} any more")


def grow_reservation(
    conn: Connection, pool_id: int, delta: int, *, zone_id: int, account_id: int, cluster_id: int | None
) -> None:
    """Reserve ``delta`` more bytes on a pool a volume already holds (resize), or release them when negative.

    Raises:
        InsufficientCapacityError: the pool cannot take ``delta`` more bytes (533).
    """
    if delta <= 0:
        if delta < 0:
            release_pool(conn, pool_id, -delta)
        return
    pool = pool_candidate(conn, pool_id, zone_id=zone_id, account_id=account_id, cluster_id=cluster_id)
    if not reserve_pool(conn, pool, delta):
        raise InsufficientCapacityError(
            f"Storage pool {pool.name} cannot take {delta / GIB:g} GiB more: {pool.allocated} of "
            f"{pool.allocated_limit} allocatable bytes are reserved (storage.overprovisioning.factor "
            f"{pool.factor:g}, pool.storage.allocated.capacity.disablethreshold {pool.allocated_threshold:g})"
        )
