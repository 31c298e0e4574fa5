"""Every host, cluster and pool filter, each with the reason the 533 message gives (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.services.compute.allocator import DeploymentRequest, PlannerSettings, Search, Snapshot, VolumeRequest
from tests.unit.services.compute.snapshots import GIB, host, pool, request, snapshot


def reason(snap: Snapshot, req: DeploymentRequest) -> str:
    search = Search(snap, req, PlannerSettings())
    assert list(search.candidates()) == []
    return search.explain()


def test_message_names_the_request_the_zone_and_counts_reasons() -> None:
    hosts = [host(1, cpu_allocated=8000), host(2, cpu_allocated=8000), host(3, cpu_allocated=8000)]
    hosts.append(host(4, resource_state="Maintenance"))
    text = reason(snapshot(hosts, [pool(1)], clusters={1: {"cpu_threshold": 2.0}}), request())
    assert text == (
        "No host in zone z1 has 2 × 1000 MHz CPU and 2048 MiB RAM and 10 GiB of storage free: "  # noqa: RUF001
        "3 hosts full (CPU), 1 host in maintenance"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "Down"}, "1 host Down (not Up)"),
        ({"status": "Alert"}, "1 host Alert (not Up)"),
        ({"resource_state": "PrepareForMaintenance"}, "1 host in maintenance"),
        ({"resource_state": "Disabled"}, "1 host Disabled (not Enabled)"),
        ({"hypervisor": "XenServer"}, "1 host running XenServer, not KVM"),
        ({"cpu_cores": 1}, "1 host with too few or too slow cores"),
        ({"cpu_speed": 500}, "1 host with too few or too slow cores"),
        ({"cpu_allocated": 7000}, "1 host full (CPU)"),
        ({"memory_allocated": 7 * GIB}, "1 host full (memory)"),
        ({"cpu_allocated": 7000, "memory_allocated": 7 * GIB}, "1 host full (CPU and memory)"),
    ],
)
def test_host_filters(changes: dict[str, Any], expected: str) -> None:
    # Thresholds out of the way: these cases are about the host itself.
    snap = snapshot([host(1, **changes)], [pool(1)], clusters={1: {"cpu_threshold": 9.0, "mem_threshold": 9.0}})
    assert reason(snap, request(hypervisor="KVM")).endswith(f"free: {expected}")


def test_host_tags_must_all_be_on_the_host() -> None:
    snap = snapshot([host(1, tags=frozenset({"ssd"})), host(2, tags=frozenset({"ssd", "gpu"}))], [pool(1)])
    search = Search(snap, request(host_tags=frozenset({"ssd", "gpu"})), PlannerSettings())
    assert [c.host.id for c in search.candidates()] == [2]
    assert search.host_reasons == {"without host tags gpu": 1}


def test_over_provisioning_factor_raises_the_host_limit() -> None:
    busy = host(1, cpu_allocated=7000, cpu_factor=1.0)
    assert "full (CPU)" in reason(snapshot([busy], [pool(1)], clusters={1: {"cpu_threshold": 9.0}}), request())
    overprovisioned = host(1, cpu_allocated=7000, cpu_factor=2.0)  # 16000 MHz now
    snap = snapshot([overprovisioned], [pool(1)], clusters={1: {"cpu_threshold": 9.0}})
    assert [c.host.id for c in Search(snap, request(), PlannerSettings()).candidates()] == [1]
    memory = host(1, memory_allocated=7 * GIB, mem_factor=1.5)  # 12 GiB
    snap = snapshot([memory], [pool(1)], clusters={1: {"mem_threshold": 9.0}})
    assert [c.host.id for c in Search(snap, request(), PlannerSettings()).candidates()] == [1]


def test_cluster_disable_thresholds_count_the_request() -> None:
    # 2 hosts, 16000 MHz; 11000 allocated + 2000 asked = 81% < 85%: fits. +3000 more = 100%: does not.
    hosts = [host(1, cpu_allocated=7000), host(2, cpu_allocated=4000)]
    assert [c.host.id for c in Search(snapshot(hosts, [pool(1)]), request(), PlannerSettings()).candidates()] == [2]
    hosts = [host(1, cpu_allocated=7000), host(2, cpu_allocated=6000)]
    text = reason(snapshot(hosts, [pool(1)]), request())
    assert text.endswith("2 hosts in clusters past cluster.cpu.allocated.capacity.disablethreshold (0.85)")
    hosts = [host(1, memory_allocated=7 * GIB), host(2, memory_allocated=6 * GIB)]
    text = reason(snapshot(hosts, [pool(1)]), request())
    assert text.endswith("2 hosts in clusters past cluster.memory.allocated.capacity.disablethreshold (0.85)")


def test_disabled_zone_pod_and_cluster_are_hidden_from_users_but_not_root() -> None:
    hosts, pools = [host(1)], [pool(1)]
    assert reason(snapshot(hosts, pools, zone_state="Disabled"), request()).endswith("1 host in a disabled zone")
    pods = {1: ("p1", "Disabled")}
    assert reason(snapshot(hosts, pools, pods=pods), request()).endswith("1 host in a disabled pod")
    clusters = {1: {"allocation_state": "Disabled"}}
    assert reason(snapshot(hosts, pools, clusters=clusters), request()).endswith("1 host in a disabled cluster")
    for snap in (snapshot(hosts, pools, pods=pods), snapshot(hosts, pools, clusters=clusters)):
        assert len(list(Search(snap, request(is_root_admin=True), PlannerSettings()).candidates())) == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "Maintenance"}, "1 pool in Maintenance (not Up)"),
        ({"tags": frozenset({"hdd"})}, "1 pool without storage tags ssd"),
        ({"used": 900 * GIB}, "1 pool past pool.storage.capacity.disablethreshold (0.85)"),
        ({"allocated": 845 * GIB}, "1 pool full (allocated space)"),
    ],
)
def test_pool_filters(changes: dict[str, Any], expected: str) -> None:
    changes = {"tags": frozenset({"ssd"}), **changes}
    vols = (VolumeRequest("ROOT", 10 * GIB, frozenset({"ssd"})),)
    text = reason(snapshot([host(1)], [pool(1, **changes)]), request(volumes=vols))
    assert text.endswith(f"1 host without a suitable storage pool; storage pools: {expected}")


def test_storage_over_provisioning_factor_raises_the_pool_limit() -> None:
    vols = (VolumeRequest("ROOT", 100 * GIB),)
    full = pool(1, capacity=100 * GIB, factor=1.0)
    assert "full (allocated space)" in reason(snapshot([host(1)], [full]), request(volumes=vols))
    doubled = pool(1, capacity=100 * GIB, factor=2.0)  # 200 GiB * 0.85
    assert len(list(Search(snapshot([host(1)], [doubled]), request(volumes=vols), PlannerSettings()).candidates())) == 1


def test_pool_scope_local_cluster_zone() -> None:
    local = (VolumeRequest("ROOT", GIB, local=True),)
    snap = snapshot(
        [host(1, 1), host(2, 2)],
        [pool(1, None, scope="HOST", host_id=2), pool(2, 1), pool(3, None, scope="ZONE", hypervisor="KVM")],
    )
    assert [
        (c.host.id, c.pools[0].id) for c in Search(snap, request(volumes=local), PlannerSettings()).candidates()
    ] == [(2, 1)]
    shared = Search(snap, request(), PlannerSettings())
    assert [(c.host.id, c.pools[0].id) for c in shared.candidates()] == [(1, 2), (2, 3)]
    xen_only = snapshot([host(1)], [pool(3, None, scope="ZONE", hypervisor="XenServer")])
    assert reason(xen_only, request()).endswith("1 host without a suitable storage pool")


def test_host_hint_failure_names_the_host() -> None:
    snap = snapshot([host(1, status="Down"), host(2)], [pool(1)])
    assert reason(snap, request(host_id=1)) == (
        "No host in zone z1 (host h1 requested) has 2 × 1000 MHz CPU and 2048 MiB RAM "  # noqa: RUF001
        "and 10 GiB of storage free: "
        "1 host Down (not Up)"
    )


def test_affinity_reasons() -> None:
    snap = snapshot([host(1), host(2)], [pool(1)])
    assert reason(snap, request(avoid_hosts=frozenset({1, 2}))).endswith(
        "2 hosts holding a VM of the same host anti-affinity group"
    )
    assert reason(snap, request(affinity_hosts=frozenset({9}))).endswith(
        "2 hosts not the host of the VM's host affinity group"
    )
