"""Planner ordering (pure, over hand-built snapshots): each algorithm, hints, last host, affinity."""

from __future__ import annotations

import random
from typing import Any

import pytest

from provisioner.exceptions import ParamError
from provisioner.services.compute.allocator import DeploymentRequest, ExcludeList, PlannerSettings, Search, Snapshot
from tests.unit.services.compute.snapshots import GIB, host, pool, request, snapshot


def order(
    snap: Snapshot, req: DeploymentRequest, algorithm: str = "firstfit", seed: int = 0, **settings: Any
) -> list[int]:
    search = Search(snap, req, PlannerSettings(algorithm=algorithm, **settings), rng=random.Random(seed))
    return [c.host.id for c in search.candidates()]


def test_firstfit_orders_clusters_by_allocated_share_and_hosts_by_id() -> None:
    hosts = [host(3, 1), host(1, 1), host(2, 2, cpu_allocated=1000), host(4, 2)]
    snap = snapshot(hosts, [pool(1, 1), pool(2, 2)])
    # Cluster 1 has nothing allocated, cluster 2 has 1000 of 16000 MHz: cluster 1 first.
    assert order(snap, request()) == [1, 3, 2, 4]


def test_cluster_order_follows_the_capacity_type() -> None:
    hosts = [host(1, 1, cpu_allocated=4000), host(2, 2, memory_allocated=4 * GIB)]
    snap = snapshot(hosts, [pool(1, 1), pool(2, 2)])
    assert order(snap, request(), capacity_type="CPU") == [2, 1]
    assert order(snap, request(), capacity_type="RAM") == [1, 2]
    # COMBINED: 0.5 * 0.5 (cpu) vs 0.5 * 0.5 (memory) ties, then by id; weight 0.9 favours low CPU use.
    assert order(snap, request(), capacity_type="COMBINED", cpu_to_memory_weight=0.9) == [2, 1]


def test_random_shuffles_hosts_but_visits_each_once() -> None:
    snap = snapshot([host(i) for i in range(1, 21)], [pool(1)])
    orders = {tuple(order(snap, request(), "random", seed)) for seed in range(5)}
    assert all(sorted(o) == list(range(1, 21)) for o in orders)
    assert len(orders) > 1


def test_userdispersing_prefers_hosts_and_clusters_with_fewer_account_vms() -> None:
    hosts = [host(1, 1), host(2, 1), host(3, 2), host(4, 2)]
    snap = snapshot(hosts, [pool(1, 1), pool(2, 2)], account_vms={1: 3, 2: 1, 3: 1})
    # Cluster 2 holds 1 of the account's 5 VMs, cluster 1 holds 4; inside, fewest VMs first.
    assert order(snap, request(), "userdispersing") == [4, 3, 2, 1]
    # Weight 0 ignores the VMs: clusters by capacity (tie -> id), hosts still by VM count.
    assert order(snap, request(), "userdispersing", dispersion_weight=0.0) == [2, 1, 4, 3]


def test_firstfitleastconsumed_orders_hosts_by_free_capacity() -> None:
    hosts = [host(1, cpu_allocated=6000), host(2, cpu_allocated=2000, memory_allocated=6 * GIB), host(3)]
    snap = snapshot(hosts, [pool(1)])
    assert order(snap, request(memory_mib=512), "firstfitleastconsumed") == [3, 2, 1]
    assert order(snap, request(memory_mib=512), "firstfitleastconsumed", capacity_type="RAM") == [1, 3, 2]


def test_unknown_algorithm_and_capacity_type_are_431() -> None:
    with pytest.raises(ParamError, match=r"vm\.allocation\.algorithm"):
        PlannerSettings(algorithm="bestfit")
    with pytest.raises(ParamError, match=r"host\.capacityType"):
        PlannerSettings(capacity_type="DISK")


def test_last_host_is_tried_first_then_the_usual_order() -> None:
    snap = snapshot([host(1), host(2), host(3)], [pool(1)])
    assert order(snap, request(last_host_id=3)) == [3, 1, 2]
    # A full last host is simply skipped.
    full = snapshot([host(1), host(2), host(3, cpu_allocated=8000)], [pool(1)])
    assert order(full, request(last_host_id=3)) == [1, 2]


def test_hints_narrow_the_search() -> None:
    snap = snapshot(
        [host(1, 1), host(2, 2), host(3, 2)],
        [pool(1, 1), pool(2, 2)],
        clusters={2: {"pod_id": 2}},
        pods={1: ("p1", "Enabled"), 2: ("p2", "Enabled")},
    )
    assert order(snap, request(cluster_id=2)) == [2, 3]
    assert order(snap, request(pod_id=1)) == [1]
    assert order(snap, request(host_id=3)) == [3]


def test_excluded_hosts_are_skipped_even_mid_walk() -> None:
    snap = snapshot([host(1), host(2), host(3)], [pool(1)])
    exclude = ExcludeList()
    search = Search(snap, request(), PlannerSettings(), exclude)
    walk = search.candidates()
    assert next(walk).host.id == 1
    exclude.hosts.add(2)
    assert [c.host.id for c in walk] == [3]


def test_anti_affinity_and_affinity() -> None:
    snap = snapshot([host(1), host(2), host(3)], [pool(1)])
    assert order(snap, request(avoid_hosts=frozenset({1, 2}))) == [3]
    assert order(snap, request(affinity_hosts=frozenset({2}))) == [2]
    # An affinity group whose members are all stopped admits any host.
    assert order(snap, request(affinity_hosts=frozenset())) == [1, 2, 3]


def test_each_volume_gets_a_pool_and_sizes_add_up_on_a_shared_pool() -> None:
    from provisioner.services.compute.allocator import VolumeRequest

    snap = snapshot([host(1)], [pool(1, capacity=100 * GIB), pool(2, capacity=100 * GIB)])
    vols = (VolumeRequest("ROOT", 60 * GIB), VolumeRequest("DATA", 60 * GIB))
    # 2 x 60 GiB do not fit in pool 1's 100 * 2 (factor 1 here) * 0.85 = 85 GiB: the data disk goes to pool 2.
    [candidate] = Search(snap, request(volumes=vols), PlannerSettings()).candidates()
    assert [p.id for p in candidate.pools] == [1, 2]
