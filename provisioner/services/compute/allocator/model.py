"""What the planners decide over: a read-only snapshot of one zone, the request, and the avoid set.

Everything here is plain data. The planners never touch the database, so a decision is fast and
testable; the reservation step (:mod:`.reserve`) re-checks what they chose against the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MIB = 1024 * 1024
GIB = 1024 * MIB

#: Host ``status`` and ``resource_state`` a host needs to receive new VMs (§9).
HOST_UP = "Up"
HOST_ENABLED = "Enabled"
#: ``allocation_state`` of zones, pods and clusters that take new VMs.
ALLOCATION_ENABLED = "Enabled"
#: Storage pool ``state`` that takes new volumes.
POOL_UP = "Up"


@dataclass(frozen=True, slots=True)
class ClusterCandidate:
    """A cluster with its settings and the sums over its hosts (factors applied to the totals)."""

    id: int
    name: str
    pod_id: int
    hypervisor: str
    allocation_state: str
    cpu_factor: float
    mem_factor: float
    cpu_threshold: float
    mem_threshold: float
    cpu_total: float = 0.0  # MHz, over-provisioned
    cpu_allocated: int = 0
    mem_total: float = 0.0  # bytes, over-provisioned
    mem_allocated: int = 0
    #: Allocated shares (1 when the cluster offers nothing), kept as fields: planners sort by them.
    cpu_share: float = field(init=False)
    mem_share: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpu_share", self.cpu_allocated / self.cpu_total if self.cpu_total > 0 else 1.0)
        object.__setattr__(self, "mem_share", self.mem_allocated / self.mem_total if self.mem_total > 0 else 1.0)


@dataclass(frozen=True, slots=True)
class HostCandidate:
    """A host as the allocator sees it: state, tags, raw capacity and what VMs hold on it."""

    id: int
    name: str
    zone_id: int
    pod_id: int | None
    cluster_id: int | None
    status: str
    resource_state: str
    hypervisor: str
    tags: frozenset[str]
    cpu_cores: int
    cpu_speed: int  # MHz per core
    memory: int  # bytes
    cpu_allocated: int  # MHz
    memory_allocated: int  # bytes
    cpu_factor: float = 1.0
    mem_factor: float = 1.0

    @property
    def cpu_limit(self) -> int:
        """MHz VMs may hold here: cores * speed * the cluster's ``cpu.overprovisioning.factor``."""
        return int(self.cpu_cores * self.cpu_speed * self.cpu_factor)

    @property
    def mem_limit(self) -> int:
        """Bytes VMs may hold here: memory * the cluster's ``mem.overprovisioning.factor``."""
        return int(self.memory * self.mem_factor)

    @property
    def cpu_free(self) -> int:
        """MHz still free (may be negative after a factor was lowered)."""
        return self.cpu_limit - self.cpu_allocated

    @property
    def mem_free(self) -> int:
        """Bytes still free."""
        return self.mem_limit - self.memory_allocated


@dataclass(frozen=True, slots=True)
class PoolCandidate:
    """A primary storage pool with its factor and thresholds resolved."""

    id: int
    name: str
    scope: str  # CLUSTER | ZONE | HOST
    state: str
    pool_type: str
    hypervisor: str | None
    zone_id: int
    pod_id: int | None
    cluster_id: int | None
    host_id: int | None
    tags: frozenset[str]
    capacity: int
    used: int
    allocated: int
    factor: float = 1.0  # ``storage.overprovisioning.factor``, 1 for pool types never over-provisioned
    used_threshold: float = 0.85
    allocated_threshold: float = 0.85

    @property
    def allocated_limit(self) -> int:
        """Bytes volumes may reserve: capacity * factor * ``pool.storage.allocated.capacity.disablethreshold``."""
        return int(self.capacity * self.factor * min(self.allocated_threshold, 1.0))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One zone as read at one moment: what every planner decision is computed over."""

    zone_id: int
    zone_name: str
    zone_allocation_state: str
    pods: Mapping[int, tuple[str, str]]  # id -> (name, allocation_state)
    clusters: Mapping[int, ClusterCandidate]
    hosts: Mapping[int, HostCandidate]
    hosts_by_cluster: Mapping[int, tuple[HostCandidate, ...]]  # each in id order
    cluster_pools: Mapping[int, tuple[PoolCandidate, ...]]  # CLUSTER scope, by cluster id
    zone_pools: tuple[PoolCandidate, ...]  # ZONE scope
    local_pools: Mapping[int, tuple[PoolCandidate, ...]]  # HOST scope, by host id
    #: Running VMs of the requesting account per host (``userdispersing`` only; empty otherwise).
    account_vms: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VolumeRequest:
    """A volume to place: size and what its disk offering asks of the pool."""

    name: str
    size: int  # bytes
    tags: frozenset[str] = frozenset()
    local: bool = False  # the offering's storage type is ``local``


@dataclass(frozen=True, slots=True)
class DeploymentRequest:
    """What a VM needs and where it may go.

    Attributes:
        zone_id: the zone to deploy in.
        cpu_number: vCPUs; cpu_speed: MHz each; memory_mib: RAM in MiB.
        host_tags: offering host tags; every one must be on the host.
        hypervisor: the template's hypervisor, None for any.
        volumes: the volumes to place with the VM (ROOT first).
        account_id: the owner (``userdispersing`` spreads by it).
        pod_id, cluster_id, host_id: placement hints; a host hint admits only that host.
        last_host_id: tried first on start.
        avoid_hosts: hosts holding members of the VM's host anti-affinity groups.
        affinity_hosts: hosts holding members of its host affinity groups (None: no such group).
        is_root_admin: root admins may deploy into disabled zones, pods and clusters.
    """

    zone_id: int
    cpu_number: int
    cpu_speed: int
    memory_mib: int
    account_id: int
    host_tags: frozenset[str] = frozenset()
    hypervisor: str | None = None
    volumes: tuple[VolumeRequest, ...] = ()
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    last_host_id: int | None = None
    avoid_hosts: frozenset[int] = frozenset()
    affinity_hosts: frozenset[int] | None = None
    is_root_admin: bool = False

    @property
    def cpu_mhz(self) -> int:
        """CPU the VM holds: cores * MHz."""
        return self.cpu_number * self.cpu_speed

    @property
    def memory_bytes(self) -> int:
        """RAM the VM holds, in bytes."""
        return self.memory_mib * MIB


@dataclass(slots=True)
class ExcludeList:
    """CloudStack's ``ExcludeList``: what a retry must not pick again."""

    hosts: set[int] = field(default_factory=set)
    pools: set[int] = field(default_factory=set)
    clusters: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A host and one pool per requested volume (same order), as a planner proposes them."""

    host: HostCandidate
    pools: tuple[PoolCandidate, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a VM went, after its capacity was reserved."""

    host_id: int
    cluster_id: int | None
    pod_id: int | None
    zone_id: int
    pool_ids: tuple[int, ...]
    attempts: int
