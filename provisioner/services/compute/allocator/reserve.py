"""Atomic reservation: the planner proposes, one conditional UPDATE per host and pool decides.

Why this cannot over-commit, on both databases: the guard and the increment are one statement,
``UPDATE host SET cpu_allocated = cpu_allocated + :n … WHERE id = :h AND cpu_allocated + :n <= :limit``.
On PostgreSQL (READ COMMITTED) an UPDATE locks the row and re-evaluates its WHERE clause against
the newest committed version once a concurrent writer commits, so the second of two racing
reservations sees the first one's increment. On SQLite every write transaction starts with
``BEGIN IMMEDIATE`` and holds the database lock until it commits, so writers never interleave.
Either way, rowcount 0 means "lost the race": the host (or pool) is excluded and the next
candidate is tried, a bounded number of times.
"""

from __future__ import annotations

import random

from sqlalchemy import Connection, bindparam, update

from provisioner.db.schema import host, storage_pool
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute.allocator.model import (
    HOST_ENABLED,
    HOST_UP,
    POOL_UP,
    DeploymentRequest,
    HostCandidate,
    Placement,
    PoolCandidate,
    Snapshot,
)
from provisioner.services.compute.allocator.planners import USERDISPERSING, PlannerSettings, Search
from provisioner.services.compute.allocator.snapshot import load_snapshot
from provisioner.services.infrastructure.capacity import adjust_host_allocation, adjust_pool_usage

#: Candidates tried (won or lost) before a deployment gives up with 533.
MAX_ATTEMPTS = 32
#: Reasons for candidates the planner proposed but a concurrent deployment filled first.
LOST_HOST = "filled by a concurrent deployment"
LOST_POOL = "whose storage pool was filled by a concurrent deployment"


#: The guarded increments, built once (a deployment runs them on its hot path).
_RESERVE_HOST = (
    update(host)
    .where(
        host.c.id == bindparam("host_pk"),
        host.c.removed.is_(None),
        host.c.status == HOST_UP,
        host.c.resource_state == HOST_ENABLED,
        host.c.cpu_allocated + bindparam("add_cpu") <= bindparam("cpu_limit"),
        host.c.memory_allocated + bindparam("add_memory") <= bindparam("mem_limit"),
    )
    .values(
        cpu_allocated=host.c.cpu_allocated + bindparam("add_cpu"),
        cores_allocated=host.c.cores_allocated + bindparam("add_cores"),
        memory_allocated=host.c.memory_allocated + bindparam("add_memory"),
    )
)
_RESERVE_POOL = (
    update(storage_pool)
    .where(
        storage_pool.c.id == bindparam("pool_pk"),
        storage_pool.c.removed.is_(None),
        storage_pool.c.state == POOL_UP,
        storage_pool.c.allocated_bytes + bindparam("add_bytes") <= bindparam("bytes_limit"),
    )
    .values(allocated_bytes=storage_pool.c.allocated_bytes + bindparam("add_bytes"))
)


def reserve_host(conn: Connection, candidate: HostCandidate, cpu_mhz: int, cores: int, memory: int) -> bool:
    """Add a VM's CPU and memory to a host if they still fit under its over-provisioned limits.

    Returns:
        True when reserved; False when the host filled up (or left Up/Enabled) since the snapshot.
    """
    values = {
        "host_pk": candidate.id,
        "add_cpu": cpu_mhz,
        "add_cores": cores,
        "add_memory": memory,
        "cpu_limit": candidate.cpu_limit,
        "mem_limit": candidate.mem_limit,
    }
    return conn.execute(_RESERVE_HOST, values).rowcount == 1


def release_host(conn: Connection, host_id: int, cpu_mhz: int, cores: int, memory: int) -> None:
    """Give back what :func:`reserve_host` took (stop, destroy, a failed placement)."""
    adjust_host_allocation(conn, host_id, cpu_mhz=-cpu_mhz, cores=-cores, memory=-memory)


def reserve_pool(conn: Connection, candidate: PoolCandidate, size: int) -> bool:
    """Add a volume's size to a pool's allocated bytes if it still fits under the pool's limit."""
    values = {"pool_pk": candidate.id, "add_bytes": size, "bytes_limit": candidate.allocated_limit}
    return conn.execute(_RESERVE_POOL, values).rowcount == 1


def release_pool(conn: Connection, pool_id: int, size: int) -> None:
    """Give back what :func:`reserve_pool` took (expunge, a failed placement)."""
    adjust_pool_usage(conn, pool_id, allocated=-size)


def allocate(
    conn: Connection,
    request: DeploymentRequest,
    settings: PlannerSettings,
    *,
    rng: random.Random | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    snapshot: Snapshot | None = None,
) -> Placement:
    """Plan and reserve a host and one pool per volume, inside the caller's transaction.

    The caller inserts the VM and its volumes in the same transaction, so a placement and its
    reservation commit (or roll back) together. A ``snapshot`` read earlier (outside the write
    transaction, shared by several deployments) may be passed: the reservation rechecks every row,
    so a stale one only costs lost candidates, never an over-commit.

    Raises:
        InsufficientCapacityError: nothing fits (the text says what and why), or every candidate
            tried was taken by concurrent deployments (533).
    """
    if snapshot is None:
        snapshot = load_snapshot(conn, request, with_account_vms=settings.algorithm == USERDISPERSING)
    search = Search(snapshot, request, settings, rng=rng)
    for attempts, candidate in enumerate(search.candidates(), start=1):
        if reserve_host(conn, candidate.host, request.cpu_mhz, request.cpu_number, request.memory_bytes):
            taken: list[tuple[int, int]] = []
            for pool, volume in zip(candidate.pools, request.volumes, strict=True):
                if not reserve_pool(conn, pool, volume.size):
                    search.exclude.pools.add(pool.id)
                    break
                taken.append((pool.id, volume.size))
            else:
                return Placement(
                    host_id=candidate.host.id,
                    cluster_id=candidate.host.cluster_id,
                    pod_id=candidate.host.pod_id,
                    zone_id=candidate.host.zone_id,
                    pool_ids=tuple(pool.id for pool in candidate.pools),
                    attempts=attempts,
                )
            # A pool filled up under us: undo this host's share and try the next candidate.
            for pool_id, size in taken:
                release_pool(conn, pool_id, size)
            release_host(conn, candidate.host.id, request.cpu_mhz, request.cpu_number, request.memory_bytes)
            search.host_reasons[LOST_POOL] += 1
        else:
            search.exclude.hosts.add(candidate.host.id)
            search.host_reasons[LOST_HOST] += 1
        if attempts >= max_attempts:
            raise InsufficientCapacityError(f"{search.explain()}; gave up after {attempts} attempts")
    raise InsufficientCapacityError(search.explain())
