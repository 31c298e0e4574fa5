"""Atomic reservation: the planner proposes, one conditional UPDATE per host and pool decides.

Why this cannot over-commit, on both databases: the guard and the increment are one statement,
``UPDATE host SET cpu_allocated = cpu_allocated + :n … WHERE id = :h AND cpu_allocated + :n <= :limit``.
On PostgreSQL (READ COMMITTED) an UPDATE locks the row and re-evaluates its WHERE clause against
the newest committed version once a concurrent writer commits, so the second of two racing
reservations sees the first one's increment. On SQLite every write transaction starts with
``BEGIN IMMEDIATE`` and holds the database lock until it commits, so writers never interleave.
Either way, rowcount 0 means "lost the race": the host (or pool) is excluded and the next
candidate is tried, a bounded number of times.

A reserved row stays locked until the deployment commits, a dozen statements later. On PostgreSQL,
concurrent deployments that all drew the same first candidate (a shared snapshot, ``firstfit``) would
queue on its host and pool rows and commit one after another. So the first attempts lock with
``SKIP LOCKED``: a row another deployment is reserving now is passed over for the next candidate
(:data:`MAX_BUSY` at most), and waited for only when nothing else is left, so a row being
reserved never makes a deployment fail that waiting would have placed.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, update

from provisioner.db.schema import host, storage_pool
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute.allocator.model import (
    HOST_ENABLED,
    HOST_UP,
    POOL_UP,
    Candidate,
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
#: Candidates passed over because a concurrent deployment holds their rows, before waiting for the first of them.
#: Most cost no statement (their cluster's pool was found held already): a cluster's worth of hosts, and more.
MAX_BUSY = 64
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


def _skipping_locked(table: Any, guarded: Any, key: str) -> Select[tuple[int, int]]:
    """``guarded`` (a reserving UPDATE) on the row only if no other transaction holds it (PostgreSQL).

    One statement answers (locked, reserved): (0, 0) another transaction holds the row; (1, 0) it no longer fits;
    (1, 1) reserved.
    """
    locked = select(table.c.id).where(table.c.id == bindparam(key)).with_for_update(skip_locked=True).cte("locked")
    reserved = guarded.where(table.c.id == locked.c.id).returning(table.c.id).cte("reserved")
    return select(
        select(func.count()).select_from(locked).scalar_subquery(),
        select(func.count()).select_from(reserved).scalar_subquery(),
    )


_RESERVE_HOST_SKIP = _skipping_locked(host, _RESERVE_HOST, "host_pk")
_RESERVE_POOL_SKIP = _skipping_locked(storage_pool, _RESERVE_POOL, "pool_pk")


def _run(conn: Connection, plain: Any, skipping: Any, values: dict[str, Any], skip_locked: bool) -> bool | None:
    if skip_locked and conn.dialect.name == "postgresql":
        locked, reserved = conn.execute(skipping, values).one()
        return None if locked == 0 else reserved == 1
    return bool(conn.execute(plain, values).rowcount == 1)


def reserve_host(
    conn: Connection, candidate: HostCandidate, cpu_mhz: int, cores: int, memory: int, *, skip_locked: bool = False
) -> bool | None:
    """Add a VM's CPU and memory to a host if they still fit under its over-provisioned limits.

    Args:
        conn: a connection inside the deployment's transaction.
        candidate: the host as the snapshot saw it (its limits).
        cpu_mhz: the VM's MHz.
        cores: its cores.
        memory: its bytes of memory.
        skip_locked: on PostgreSQL, do not wait for a concurrent transaction holding the row (answer None).

    Returns:
        True when reserved; False when the host filled up (or left Up/Enabled) since the snapshot;
        None (only with ``skip_locked``) when another transaction holds the row now.
    """
    values = {
        "host_pk": candidate.id,
        "add_cpu": cpu_mhz,
        "add_cores": cores,
        "add_memory": memory,
        "cpu_limit": candidate.cpu_limit,
        "mem_limit": candidate.mem_limit,
    }
    return _run(conn, _RESERVE_HOST, _RESERVE_HOST_SKIP, values, skip_locked)


def release_host(conn: Connection, host_id: int, cpu_mhz: int, cores: int, memory: int) -> None:
    """Give back what :func:`reserve_host` took (stop, destroy, a failed placement)."""
    adjust_host_allocation(conn, host_id, cpu_mhz=-cpu_mhz, cores=-cores, memory=-memory)


def reserve_pool(conn: Connection, candidate: PoolCandidate, size: int, *, skip_locked: bool = False) -> bool | None:
    """Add a volume's size to a pool's allocated bytes if it still fits under the pool's limit.

    Returns:
        As :func:`reserve_host`: True reserved, False full, None held by another transaction (``skip_locked``).
    """
    values = {"pool_pk": candidate.id, "add_bytes": size, "bytes_limit": candidate.allocated_limit}
    return _run(conn, _RESERVE_POOL, _RESERVE_POOL_SKIP, values, skip_locked)


def release_pool(conn: Connection, pool_id: int, size: int) -> None:
    """Give back what :func:`reserve_pool` took (expunge, a failed placement)."""
    adjust_pool_usage(conn, pool_id, allocated=-size)


def _reserve(
    conn: Connection, search: Search, candidate: Candidate, request: DeploymentRequest, busy_pools: set[int] | None
) -> bool | None:
    """Reserve the candidate's host and pools: True done; False lost (excluded); None held by a concurrent
    deployment (undone; a held pool joins ``busy_pools``). ``busy_pools`` None: wait for held rows instead."""
    skip = busy_pools is not None
    got = reserve_host(
        conn, candidate.host, request.cpu_mhz, request.cpu_number, request.memory_bytes, skip_locked=skip
    )
    if not got:
        if got is False:
            search.exclude.hosts.add(candidate.host.id)
            search.host_reasons[LOST_HOST] += 1
        return got
    taken: list[tuple[int, int]] = []
    for pool, volume in zip(candidate.pools, request.volumes, strict=True):
        got = reserve_pool(conn, pool, volume.size, skip_locked=skip)
        if not got:
            if got is False:
                search.exclude.pools.add(pool.id)
                search.host_reasons[LOST_POOL] += 1
            elif busy_pools is not None:
                busy_pools.add(pool.id)
            break
        taken.append((pool.id, volume.size))
    else:
        return True
    # A pool filled up (or is held) under us: undo this host's share; the caller tries the next candidate.
    for pool_id, size in taken:
        release_pool(conn, pool_id, size)
    release_host(conn, candidate.host.id, request.cpu_mhz, request.cpu_number, request.memory_bytes)
    return got


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
    so a stale one only costs lost candidates, never an over-commit. Candidates whose rows a
    concurrent deployment holds are passed over first, then waited for (PostgreSQL; see above).

    Raises:
        InsufficientCapacityError: nothing fits (the text says what and why), or every candidate
            tried was taken by concurrent deployments (533).
    """
    if snapshot is None:
        snapshot = load_snapshot(conn, request, with_account_vms=settings.algorithm == USERDISPERSING)
    search = Search(snapshot, request, settings, rng=rng)
    candidates = search.candidates()
    busy: list[Candidate] = []
    busy_pools: set[int] = set()
    attempts = 0  # candidates won or lost; one passed over as busy is not an attempt

    def placed(candidate: Candidate) -> Placement:
        return Placement(
            host_id=candidate.host.id,
            cluster_id=candidate.host.cluster_id,
            pod_id=candidate.host.pod_id,
            zone_id=candidate.host.zone_id,
            pool_ids=tuple(pool.id for pool in candidate.pools),
            attempts=attempts,
        )

    for candidate in candidates:
        held = busy_pools.intersection(pool.id for pool in candidate.pools)
        got = None if held else _reserve(conn, search, candidate, request, busy_pools)
        if got is None:
            busy.append(candidate)
            if len(busy) >= MAX_BUSY:
                break
            continue
        attempts += 1
        if got:
            return placed(candidate)
        if attempts >= max_attempts:
            raise InsufficientCapacityError(f"{search.explain()}; gave up after {attempts} attempts")
    # What is left was held by concurrent deployments (or the search stopped at MAX_BUSY): wait for the rows now.
    for candidate in itertools.chain(busy, candidates):
        attempts += 1
        if _reserve(conn, search, candidate, request, None):
            return placed(candidate)
        if attempts >= max_attempts:
            raise InsufficientCapacityError(f"{search.explain()}; gave up after {attempts} attempts")
    raise InsufficientCapacityError(search.explain())
