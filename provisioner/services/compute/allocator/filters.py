"""Host and storage pool checks (pure): each returns None when the candidate fits, else why it does not.

The returned texts complete "N hosts …" / "N pools …" in the 533 message, so they are written
as plural predicates ("in maintenance", "full (CPU)").
"""

from __future__ import annotations

from provisioner.services.compute.allocator.model import (
    ALLOCATION_ENABLED,
    HOST_ENABLED,
    HOST_UP,
    POOL_UP,
    ClusterCandidate,
    DeploymentRequest,
    ExcludeList,
    HostCandidate,
    PoolCandidate,
    VolumeRequest,
)

#: Resource states that mean "an admin is taking the host out" (§9).
_MAINTENANCE = {"Maintenance", "PrepareForMaintenance", "ErrorInMaintenance", "ErrorInPrepareForMaintenance"}

EXCLUDED = "excluded after a failed attempt"
ANTI_AFFINITY = "holding a VM of the same host anti-affinity group"
AFFINITY = "not the host of the VM's host affinity group"
NO_POOL = "without a suitable storage pool"


def _tags(tags: frozenset[str]) -> str:
    return ",".join(sorted(tags))


def host_rejection(host: HostCandidate, request: DeploymentRequest, exclude: ExcludeList) -> str | None:
    """Why ``host`` cannot take the VM (CloudStack's host allocator checks), or None when it can.

    Order matters only for the message: the first failing check names the host's reason.
    """
    if host.id in exclude.hosts:
        return EXCLUDED
    if host.id in request.avoid_hosts:
        return ANTI_AFFINITY
    if request.affinity_hosts and host.id not in request.affinity_hosts:
        return AFFINITY
    if host.status != HOST_UP:
        return f"{host.status} (not Up)"
    if host.resource_state != HOST_ENABLED:
        return "in maintenance" if host.resource_state in _MAINTENANCE else f"{host.resource_state} (not Enabled)"
    if request.hypervisor and host.hypervisor.lower() != request.hypervisor.lower():
        return f"running {host.hypervisor}, not {request.hypervisor}"
    if not request.host_tags <= host.tags:
        return f"without host tags {_tags(request.host_tags - host.tags)}"
    # CapacityManager.checkIfHostHasCpuCapability: enough cores, each fast enough.
    if host.cpu_cores < request.cpu_number or host.cpu_speed < request.cpu_speed:
        return "with too few or too slow cores"
    cpu_full = host.cpu_allocated + request.cpu_mhz > host.cpu_limit
    mem_full = host.memory_allocated + request.memory_bytes > host.mem_limit
    if cpu_full and mem_full:
        return "full (CPU and memory)"
    if cpu_full:
        return "full (CPU)"
    if mem_full:
        return "full (memory)"
    return None


def cluster_rejection(
    cluster: ClusterCandidate, pod_state: str | None, request: DeploymentRequest, exclude: ExcludeList
) -> str | None:
    """Why no host of ``cluster`` may be used (allocation state, threshold, hypervisor), or None."""
    if cluster.id in exclude.clusters:
        return "in an excluded cluster"
    if not request.is_root_admin:
        # FirstFitPlanner hides disabled pods and clusters from everyone but root admins.
        if pod_state is not None and pod_state != ALLOCATION_ENABLED:
            return "in a disabled pod"
        if cluster.allocation_state != ALLOCATION_ENABLED:
            return "in a disabled cluster"
    if request.hypervisor and cluster.hypervisor.lower() != request.hypervisor.lower():
        return f"in {cluster.hypervisor} clusters, not {request.hypervisor}"
    # removeClustersCrossingThreshold: (allocated + requested) / over-provisioned total.
    if cluster.cpu_total <= 0 or (cluster.cpu_allocated + request.cpu_mhz) / cluster.cpu_total > cluster.cpu_threshold:
        return f"in clusters past cluster.cpu.allocated.capacity.disablethreshold ({cluster.cpu_threshold:g})"
    if (
        cluster.mem_total <= 0
        or (cluster.mem_allocated + request.memory_bytes) / cluster.mem_total > cluster.mem_threshold
    ):
        return f"in clusters past cluster.memory.allocated.capacity.disablethreshold ({cluster.mem_threshold:g})"
    return None


def pool_reachable(pool: PoolCandidate, host: HostCandidate, volume: VolumeRequest) -> bool:
    """Whether ``host`` can use ``pool`` for ``volume`` at all (scope), before any other check."""
    if volume.local:
        return pool.scope == "HOST" and pool.host_id == host.id
    if pool.scope == "CLUSTER":
        return pool.cluster_id == host.cluster_id
    if pool.scope == "ZONE":
        return pool.hypervisor is None or pool.hypervisor.lower() == host.hypervisor.lower()
    return False


def pool_rejection(pool: PoolCandidate, volume: VolumeRequest, planned: int, exclude: ExcludeList) -> str | None:
    """Why ``pool`` cannot hold ``volume`` on top of ``planned`` bytes already chosen for it, or None."""
    if pool.id in exclude.pools:
        return EXCLUDED
    if pool.state != POOL_UP:
        return f"in {pool.state} (not Up)"
    if not volume.tags <= pool.tags:
        return f"without storage tags {_tags(volume.tags - pool.tags)}"
    if pool.capacity <= 0 or pool.used / pool.capacity > pool.used_threshold:
        return f"past pool.storage.capacity.disablethreshold ({pool.used_threshold:g})"
    if pool.allocated + planned + volume.size > pool.allocated_limit:
        return "full (allocated space)"
    return None
