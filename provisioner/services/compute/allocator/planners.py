"""Deployment planners (pure): order a zone's clusters and hosts, and propose host + pools lazily.

Names and behaviour follow CloudStack's ``vm.allocation.algorithm``:

- ``firstfit``: clusters by allocated share of ``host.capacityType.to.order.clusters`` (least used
  first, as ``FirstFitPlanner``), hosts in id order (``FirstFitAllocator``).
- ``random``: the same cluster order, hosts shuffled (``FirstFitAllocator`` with ``random``).
- ``userdispersing``: clusters by ``w * account's VM share + (1 - w) * allocated share`` with
  ``w = vm.user.dispersion.weight``, hosts by the account's running VMs, fewest first
  (``UserDispersingPlanner``).
- ``firstfitleastconsumed``: the same cluster order, hosts by free capacity, most free first.

Candidates come out one by one, so a first fit over 10,000 hosts looks at a handful of them; the
full scan (and the reason counts behind the 533 message) happens only when nothing fits.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter

from provisioner.exceptions import ParamError
from provisioner.services.compute.allocator import filters
from provisioner.services.compute.allocator.model import (
    ALLOCATION_ENABLED,
    GIB,
    Candidate,
    ClusterCandidate,
    DeploymentRequest,
    ExcludeList,
    HostCandidate,
    PoolCandidate,
    Snapshot,
    VolumeRequest,
)

FIRSTFIT, RANDOM, USERDISPERSING, LEASTCONSUMED = "firstfit", "random", "userdispersing", "firstfitleastconsumed"
ALGORITHMS = (FIRSTFIT, RANDOM, USERDISPERSING, LEASTCONSUMED)
CAPACITY_TYPES = ("CPU", "RAM", "COMBINED")
_CPU_KEY = attrgetter("cpu_share", "id")
_MEM_KEY = attrgetter("mem_share", "id")


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """The settings a planner reads, resolved once per deployment.

    Attributes:
        algorithm: one of :data:`ALGORITHMS` (``vm.allocation.algorithm``).
        capacity_type: ``host.capacityType.to.order.clusters``: CPU, RAM or COMBINED.
        cpu_to_memory_weight: ``host.capacityType.to.order.clusters.cputomemoryweight`` (COMBINED).
        dispersion_weight: ``vm.user.dispersion.weight`` (``userdispersing``).
    """

    algorithm: str = FIRSTFIT
    capacity_type: str = "CPU"
    cpu_to_memory_weight: float = 0.5
    dispersion_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ParamError(f"Unsupported vm.allocation.algorithm {self.algorithm!r}; use one of {ALGORITHMS}")
        if self.capacity_type not in CAPACITY_TYPES:
            raise ParamError(
                f"Unsupported host.capacityType.to.order.clusters {self.capacity_type!r}; use CPU, RAM or COMBINED"
            )


def _ratio(used: float, total: float) -> float:
    return used / total if total > 0 else 1.0


def cluster_used_share(cluster: ClusterCandidate, settings: PlannerSettings) -> float:
    """The allocated share a cluster is ordered by (lower first)."""
    if settings.capacity_type == "CPU":
        return cluster.cpu_share
    if settings.capacity_type == "RAM":
        return cluster.mem_share
    return settings.cpu_to_memory_weight * cluster.cpu_share + (1 - settings.cpu_to_memory_weight) * cluster.mem_share


def host_free(host: HostCandidate, settings: PlannerSettings) -> float:
    """Free capacity a host is ordered by under ``firstfitleastconsumed`` (higher first)."""
    if settings.capacity_type == "CPU":
        return host.cpu_free
    if settings.capacity_type == "RAM":
        return host.mem_free
    w = settings.cpu_to_memory_weight
    return w * _ratio(host.cpu_free, host.cpu_limit) + (1 - w) * _ratio(host.mem_free, host.mem_limit)


def order_clusters(
    snapshot: Snapshot, clusters: Sequence[ClusterCandidate], settings: PlannerSettings
) -> list[ClusterCandidate]:
    """Clusters in the order the planner tries them."""
    if settings.algorithm != USERDISPERSING:
        # Attribute keys keep this sort cheap: it runs once per decision over every cluster of the zone.
        if settings.capacity_type == "CPU":
            return sorted(clusters, key=_CPU_KEY)
        if settings.capacity_type == "RAM":
            return sorted(clusters, key=_MEM_KEY)
        return sorted(clusters, key=lambda c: (cluster_used_share(c, settings), c.id))
    per_cluster: Counter[int] = Counter()
    for host_id, count in snapshot.account_vms.items():
        host = snapshot.hosts.get(host_id)
        if host is not None and host.cluster_id is not None:
            per_cluster[host.cluster_id] += count
    total = sum(per_cluster.values())
    w = settings.dispersion_weight

    def score(cluster: ClusterCandidate) -> tuple[float, int]:
        vm_share = per_cluster[cluster.id] / total if total else 0.0
        return (w * vm_share + (1 - w) * cluster_used_share(cluster, settings), cluster.id)

    return sorted(clusters, key=score)


def order_hosts(
    snapshot: Snapshot, hosts: Sequence[HostCandidate], settings: PlannerSettings, rng: random.Random
) -> list[HostCandidate]:
    """A cluster's hosts in the order the host allocator tries them."""
    if settings.algorithm == RANDOM:
        shuffled = list(hosts)
        rng.shuffle(shuffled)
        return shuffled
    if settings.algorithm == USERDISPERSING:
        return sorted(hosts, key=lambda h: (snapshot.account_vms.get(h.id, 0), h.id))
    if settings.algorithm == LEASTCONSUMED:
        return sorted(hosts, key=lambda h: (-host_free(h, settings), h.id))
    return list(hosts)


def order_pools(pools: Sequence[PoolCandidate], settings: PlannerSettings, rng: random.Random) -> list[PoolCandidate]:
    """Pools in the order the storage pool allocator tries them."""
    if settings.algorithm == RANDOM:
        shuffled = list(pools)
        rng.shuffle(shuffled)
        return shuffled
    if settings.algorithm == LEASTCONSUMED:
        return sorted(pools, key=lambda p: (_ratio(p.allocated, p.allocated_limit), p.id))
    return list(pools)


class Search:
    """One deployment's walk over a snapshot: proposes candidates and counts why others failed.

    Args:
        snapshot: the zone as read.
        request: what the VM needs.
        settings: the planner settings.
        exclude: hosts, pools and clusters to skip; the caller may add to it between candidates.
        rng: randomness for ``random`` (seed it in tests).
    """

    def __init__(
        self,
        snapshot: Snapshot,
        request: DeploymentRequest,
        settings: PlannerSettings,
        exclude: ExcludeList | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.request = request
        self.settings = settings
        self.exclude = exclude if exclude is not None else ExcludeList()
        self.rng = rng or random.Random()
        #: Hosts that did not fit, by reason (the first failing check).
        self.host_reasons: Counter[str] = Counter()
        #: Reachable pools that did not fit: reason -> pool ids.
        self.pool_reasons: dict[str, set[int]] = {}
        self._seen: set[int] = set()

    def candidates(self) -> Iterator[Candidate]:
        """Yield host + pools candidates in planner order; reasons accumulate for those skipped."""
        request, snapshot = self.request, self.snapshot
        if snapshot.zone_allocation_state != ALLOCATION_ENABLED and not request.is_root_admin:
            self.host_reasons["in a disabled zone"] += max(len(snapshot.hosts), 1)
            return
        if request.host_id is not None:
            # A host hint admits that host only, as CloudStack's plan with a host id does.
            host = snapshot.hosts.get(request.host_id)
            if host is None:
                self.host_reasons["unknown to the zone (the requested host)"] += 1
                return
            yield from self._host_in_cluster(host)
            return
        last = snapshot.hosts.get(request.last_host_id) if request.last_host_id is not None else None
        if last is not None and self._in_hinted_scope(last):
            # CloudStack tries the VM's last host first on start, whatever the planner.
            yield from self._host_in_cluster(last, count=False)
        for cluster in order_clusters(snapshot, self._clusters_in_scope(), self.settings):
            hosts = snapshot.hosts_by_cluster.get(cluster.id, ())
            reason = self._cluster_reason(cluster)
            if reason is not None:
                self.host_reasons[reason] += len(hosts)
                continue
            for host in order_hosts(snapshot, hosts, self.settings, self.rng):
                if host.id not in self._seen:
                    yield from self._host(host)

    def _clusters_in_scope(self) -> Sequence[ClusterCandidate]:
        request = self.request
        if request.cluster_id is None and request.pod_id is None:
            return tuple(self.snapshot.clusters.values())
        return [
            c
            for c in self.snapshot.clusters.values()
            if (request.cluster_id is None or c.id == request.cluster_id)
            and (request.pod_id is None or c.pod_id == request.pod_id)
        ]

    def _in_hinted_scope(self, host: HostCandidate) -> bool:
        request = self.request
        return (request.cluster_id is None or host.cluster_id == request.cluster_id) and (
            request.pod_id is None or host.pod_id == request.pod_id
        )

    def _cluster_reason(self, cluster: ClusterCandidate) -> str | None:
        pod = self.snapshot.pods.get(cluster.pod_id)
        return filters.cluster_rejection(cluster, pod[1] if pod else None, self.request, self.exclude)

    def _host_in_cluster(self, host: HostCandidate, *, count: bool = True) -> Iterator[Candidate]:
        cluster = self.snapshot.clusters.get(host.cluster_id) if host.cluster_id is not None else None
        reason = "not in a cluster" if cluster is None else self._cluster_reason(cluster)
        if reason is not None:
            if count:
                self.host_reasons[reason] += 1
            return
        yield from self._host(host, count=count)

    def _host(self, host: HostCandidate, *, count: bool = True) -> Iterator[Candidate]:
        reason = filters.host_rejection(host, self.request, self.exclude)
        if reason is None:
            pools = self._pools_for(host, record=count)
            if pools is not None:
                self._seen.add(host.id)  # proposed once: a retry comes through the exclude list
                yield Candidate(host, pools)
                return
            reason = filters.NO_POOL
        if count:
            self._seen.add(host.id)
            self.host_reasons[reason] += 1

    def _pools_for(self, host: HostCandidate, *, record: bool) -> tuple[PoolCandidate, ...] | None:
        """One pool per volume, each reachable from ``host``; None when a volume has none."""
        chosen: list[PoolCandidate] = []
        planned: Counter[int] = Counter()  # bytes already put on a pool by earlier volumes of this VM
        for volume in self.request.volumes:
            pool = self._pool_for(host, volume, planned, record)
            if pool is None:
                return None
            planned[pool.id] += volume.size
            chosen.append(pool)
        return tuple(chosen)

    def _pool_for(
        self, host: HostCandidate, volume: VolumeRequest, planned: Counter[int], record: bool
    ) -> PoolCandidate | None:
        snapshot = self.snapshot
        if volume.local:
            reachable: Sequence[PoolCandidate] = snapshot.local_pools.get(host.id, ())
        else:
            cluster_pools = snapshot.cluster_pools.get(host.cluster_id, ()) if host.cluster_id is not None else ()
            reachable = (*cluster_pools, *snapshot.zone_pools)
        for pool in order_pools(
            [p for p in reachable if filters.pool_reachable(p, host, volume)], self.settings, self.rng
        ):
            reason = filters.pool_rejection(pool, volume, planned[pool.id], self.exclude)
            if reason is None:
                return pool
            if record:
                self.pool_reasons.setdefault(reason, set()).add(pool.id)
        return None

    def explain(self) -> str:
        """The 533 text: what was asked, where, and how many hosts (and pools) failed for which reason."""
        request, snapshot = self.request, self.snapshot
        what = f"{request.cpu_number} × {request.cpu_speed} MHz CPU and {request.memory_mib} MiB RAM"  # noqa: RUF001
        if request.volumes:
            what += f" and {sum(v.size for v in request.volumes) // GIB} GiB of storage"
        where = f"zone {snapshot.zone_name}"
        if request.cluster_id is not None and request.cluster_id in snapshot.clusters:
            where = f"cluster {snapshot.clusters[request.cluster_id].name} of {where}"
        elif request.pod_id is not None and request.pod_id in snapshot.pods:
            where = f"pod {snapshot.pods[request.pod_id][0]} of {where}"
        if request.host_id is not None and (hinted := snapshot.hosts.get(request.host_id)) is not None:
            where = f"{where} (host {hinted.name} requested)"
        ranked = sorted(self.host_reasons.items(), key=lambda item: (-item[1], item[0]))
        hosts = ", ".join(f"{n} host{'s' if n != 1 else ''} {reason}" for reason, n in ranked) or "it has no hosts"
        text = f"No host in {where} has {what} free: {hosts}"
        if self.pool_reasons:
            pools = sorted(self.pool_reasons.items(), key=lambda item: (-len(item[1]), item[0]))
            text += "; storage pools: " + ", ".join(
                f"{len(ids)} pool{'s' if len(ids) != 1 else ''} {reason}" for reason, ids in pools
            )
        return text
