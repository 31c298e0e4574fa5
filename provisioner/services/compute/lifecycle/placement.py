"""Placing a VM that starts: the allocator over a shared zone snapshot, then the atomic reservation.

Reading a zone of 10,000 hosts costs ≈150 ms; read inside every deployment's write transaction it
would cap a server at a few deployments per second and hold SQLite's write lock all along. So one
snapshot per zone is read in a transaction of its own and shared by the deployments of the next
:data:`SNAPSHOT_TTL` seconds (or until a placement loses several candidates to it). It is safe
because the reservation is the judge, not the snapshot: the conditional
``UPDATE … WHERE allocated + n <= limit`` rechecks every host and pool row, so a stale snapshot only
costs a lost candidate (tried, refused, the next one taken). When the shared snapshot leads nowhere
(533), the placement is retried once on a snapshot read inside the transaction, so a VM is refused
only when the current rows say nothing fits, exactly as without the cache.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, Engine, bindparam, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import service_offering, vm_instance
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute.allocator import DeploymentRequest, Placement, Snapshot, load_snapshot
from provisioner.services.compute.allocator.planners import USERDISPERSING
from provisioner.services.compute.settings import planner_settings
from provisioner.services.compute.transitions import start_vm

#: Seconds a shared zone snapshot serves deployments before it is read again.
SNAPSHOT_TTL = 10.0
#: A placement that lost more candidates than this to rows the snapshot saw emptier makes it read again.
STALE_AFTER_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class _Entry:
    snapshot: Snapshot
    read_at: float


class SnapshotCache:
    """One zone snapshot per zone, read at most once per :data:`SNAPSHOT_TTL` (one reader at a time)."""

    def __init__(self, ttl: float = SNAPSHOT_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, engine: Engine, zone_id: int) -> Snapshot:
        """The zone's shared snapshot, read again when older than the TTL."""
        entry = self._entries.get(zone_id)
        if entry is not None and time.monotonic() - entry.read_at < self.ttl:
            return entry.snapshot
        with self._lock:
            entry = self._entries.get(zone_id)
            if entry is not None and time.monotonic() - entry.read_at < self.ttl:
                return entry.snapshot
            # A request without hints and with every tag read serves every request of the zone.
            request = DeploymentRequest(zone_id=zone_id, cpu_number=1, cpu_speed=1, memory_mib=1, account_id=0)
            snapshot = run_in_transaction(engine, lambda conn: load_snapshot(conn, request, all_tags=True))
            self._entries[zone_id] = _Entry(snapshot, time.monotonic())
            return snapshot

    def forget(self, zone_id: int) -> None:
        """Drop the zone's snapshot (the next deployment reads a fresh one)."""
        self._entries.pop(zone_id, None)


#: The process's shared snapshots.
SNAPSHOTS = SnapshotCache()


@dataclass(frozen=True, slots=True)
class Hints:
    """Where a root admin asked a VM to start (``podid``, ``clusterid``) and with which ``deploymentplanner``."""

    pod_id: int | None = None
    cluster_id: int | None = None
    planner: str | None = None


#: Built once (every start runs it): the planner the VM's offering names.
_PLANNER = (
    select(service_offering.c.deployment_planner)
    .join(vm_instance, vm_instance.c.service_offering_id == service_offering.c.id)
    .where(vm_instance.c.id == bindparam("vm_id"))
)


def start(
    conn: Connection,
    vm_id: int,
    *,
    host_id: int | None,
    is_root_admin: bool,
    snapshot: Snapshot | None = None,
    exclude_hosts: frozenset[int] = frozenset(),
    hints: Hints | None = None,
) -> Placement:
    """Stopped -> Starting: place the VM and reserve its host and pool capacity in ``conn``'s transaction.

    ``snapshot``: the zone's shared snapshot (:data:`SNAPSHOTS`); ignored for ``userdispersing``, whose
    order depends on the account's VMs. ``exclude_hosts``: hosts the VM failed to start on. ``hints``: the pod,
    cluster and planner a root admin asked for.

    Raises:
        ParamError: the VM is not Stopped (431).
        InsufficientCapacityError: nothing fits according to the current rows (533).
    """
    planner = conn.execute(_PLANNER, {"vm_id": vm_id}).scalar()
    hints = hints or Hints()
    settings = planner_settings(conn, hints.planner or planner)
    place = partial(
        start_vm,
        conn,
        vm_id,
        host_id=host_id,
        is_root_admin=is_root_admin,
        settings=settings,
        exclude_hosts=exclude_hosts,
        pod_id=hints.pod_id,
        cluster_id=hints.cluster_id,
    )
    if snapshot is not None and settings.algorithm != USERDISPERSING:
        try:
            placed = place(snapshot=snapshot)
        except InsufficientCapacityError:
            SNAPSHOTS.forget(snapshot.zone_id)  # it led nowhere: judge on the rows as they are now
        else:
            if placed.attempts > STALE_AFTER_ATTEMPTS:
                SNAPSHOTS.forget(snapshot.zone_id)  # too many lost candidates: read the zone again
            return placed
    return place()
