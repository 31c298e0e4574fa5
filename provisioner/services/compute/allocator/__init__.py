"""Deployment planning: pure planners over a zone snapshot, then an atomic reservation.

``allocate(conn, request, settings)`` is the entry point: it reads a :class:`Snapshot`, lets the
planner named by ``settings.algorithm`` propose host + pools candidates (:class:`Search`), and
reserves each with a conditional UPDATE until one holds (:mod:`.reserve`).
"""

from provisioner.services.compute.allocator.model import (
    Candidate,
    ClusterCandidate,
    DeploymentRequest,
    ExcludeList,
    HostCandidate,
    Placement,
    PoolCandidate,
    Snapshot,
    VolumeRequest,
)
from provisioner.services.compute.allocator.planners import ALGORITHMS, PlannerSettings, Search
from provisioner.services.compute.allocator.reserve import (
    allocate,
    release_host,
    release_pool,
    reserve_host,
    reserve_pool,
)
from provisioner.services.compute.allocator.snapshot import load_snapshot

__all__ = [
    "ALGORITHMS",
    "Candidate",
    "ClusterCandidate",
    "DeploymentRequest",
    "ExcludeList",
    "HostCandidate",
    "Placement",
    "PlannerSettings",
    "PoolCandidate",
    "Search",
    "Snapshot",
    "VolumeRequest",
    "allocate",
    "load_snapshot",
    "release_host",
    "release_pool",
    "reserve_host",
    "reserve_pool",
]
