"""Compute benchmark: allocator decisions per second over a 10,000-host zone, against reading its snapshot."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, insert

from provisioner.db.engine import create_engine_for
from provisioner.db.migrate import upgrade
from provisioner.db.schema import (
    account,
    cluster,
    configuration,
    domain,
    host,
    host_tag,
    pod,
    role,
    storage_pool,
    zone,
)
from provisioner.services.compute.allocator import (
    ALGORITHMS,
    DeploymentRequest,
    PlannerSettings,
    Search,
    Snapshot,
    VolumeRequest,
    allocate,
    load_snapshot,
)

DESCRIPTION = """\
Run it with ``.venv/bin/python bench/compute.py``. It builds a SQLite database holding one zone
of ``--hosts`` hosts (20 per cluster, 10 clusters per pod, one NFS pool per cluster, a few hosts
down, in maintenance or tagged, allocations drawn at random), then measures, in the same run:

- the baseline: reading the candidate snapshot of the zone (``load_snapshot``), best of ``--runs``;
- allocator decisions per second for each planner (``firstfit``, ``random``, ``userdispersing``,
  ``firstfitleastconsumed``): a decision is the planner's first host + pool candidate for a
  request drawn from a mix of sizes and host tags, computed over the snapshot (pure, no I/O).
  Floor: 2,000 decisions/s for every planner, judged on CPU time;
- for information: a decision that finds nothing (the full scan and the 533 text), and one whole
  ``allocate()`` (snapshot, plan and the reserving UPDATEs, rolled back): what a deployment pays today.

It prints each figure with its floor, the ratio of one decision to one snapshot read, and exits
non-zero when a floor is missed. The database is written to a temporary directory and removed.
"""

DECISIONS_FLOOR = 2000.0
HOSTS_PER_CLUSTER = 20
CLUSTERS_PER_POD = 10
GIB = 1024**3


def build(engine: Engine, hosts: int, rng: random.Random) -> None:
    """One zone of ``hosts`` hosts, inserted in bulk."""
    clusters = max(1, hosts // HOSTS_PER_CLUSTER)
    pods = max(1, clusters // CLUSTERS_PER_POD)
    with engine.begin() as conn:
        role_id = conn.execute(insert(role).values(name="Admin", role_type="Admin")).inserted_primary_key[0]  # type: ignore[index]
        domain_id = conn.execute(insert(domain).values(name="ROOT", path="/")).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(insert(account).values(name="bench", type=0, role_id=role_id, domain_id=domain_id))
        conn.execute(
            insert(zone).values(id=1, name="z1", network_type="Advanced", allocation_state="Enabled", zone_token="t")
        )
        conn.execute(insert(pod), [{"id": p + 1, "name": f"p{p}", "zone_id": 1} for p in range(pods)])
        conn.execute(
            insert(cluster),
            [
                {"id": c + 1, "name": f"c{c}", "zone_id": 1, "pod_id": c % pods + 1, "hypervisor_type": "KVM"}
                for c in range(clusters)
            ],
        )
        # Some clusters carry their own over-provisioning factor, as real clouds do.
        conn.execute(
            insert(configuration),
            [
                {"name": "cpu.overprovisioning.factor", "value": "2", "scope": "cluster", "scope_id": c + 1}
                for c in range(0, clusters, 7)
            ],
        )
        rows = []
        for h in range(hosts):
            cores, speed, memory = rng.choice([(16, 2400, 128), (32, 2600, 256), (64, 2200, 512)])
            status = "Down" if rng.random() < 0.01 else "Up"
            state = "Maintenance" if rng.random() < 0.01 else "Enabled"
            rows.append(
                {
                    "id": h + 1,
                    "name": f"h{h}",
                    "status": status,
                    "resource_state": state,
                    "hypervisor_type": "KVM",
                    "url": f"http://sim/c{h // HOSTS_PER_CLUSTER}/h{h}",
                    "cpu_cores": cores,
                    "cpu_speed": speed,
                    "memory": memory * GIB,
                    "cpu_allocated": int(cores * speed * rng.uniform(0.2, 0.95)),
                    "memory_allocated": int(memory * GIB * rng.uniform(0.2, 0.95)),
                    "zone_id": 1,
                    "pod_id": (h // HOSTS_PER_CLUSTER) % pods + 1,
                    "cluster_id": h // HOSTS_PER_CLUSTER + 1,
                    "driver": "simulator",
                }
            )
        conn.execute(insert(host), rows)
        conn.execute(insert(host_tag), [{"host_id": h + 1, "tag": "ssd"} for h in range(0, hosts, 3)])
        conn.execute(
            insert(storage_pool),
            [
                {
                    "name": f"pool{c}",
                    "pool_type": "NetworkFilesystem",
                    "scope": "CLUSTER",
                    "url": f"nfs://nfs/{c}",
                    "capacity_bytes": 100_000 * GIB,
                    "allocated_bytes": int(100_000 * GIB * rng.uniform(0.1, 1.5)),
                    "zone_id": 1,
                    "pod_id": c % pods + 1,
                    "cluster_id": c + 1,
                }
                for c in range(clusters)
            ],
        )


def requests(rng: random.Random, count: int) -> list[DeploymentRequest]:
    """A mix of VM sizes, a third asking for the ``ssd`` host tag."""
    sizes = [(1, 1000, 1024), (2, 2000, 4096), (4, 2000, 8192), (8, 2200, 32768)]
    out = []
    for _ in range(count):
        cpus, speed, memory = rng.choice(sizes)
        tags = frozenset({"ssd"}) if rng.random() < 0.33 else frozenset()
        out.append(
            DeploymentRequest(
                zone_id=1,
                cpu_number=cpus,
                cpu_speed=speed,
                memory_mib=memory,
                account_id=1,
                host_tags=tags,
                volumes=(VolumeRequest("ROOT", 20 * GIB),),
            )
        )
    return out


def best_cpu(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of the fastest of ``runs`` runs of ``work``."""
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        best = min(best, (time.process_time() - cpu, time.perf_counter() - wall))
    return best


def decide(snapshot: Snapshot, batch: list[DeploymentRequest], settings: PlannerSettings, seed: int) -> int:
    """Run one decision per request (the first candidate, or the 533 text); returns how many were placed."""
    rng = random.Random(seed)
    found = 0
    for request in batch:
        search = Search(snapshot, request, settings, rng=rng)
        if next(search.candidates(), None) is not None:
            found += 1
        else:
            search.explain()
    return found


def allocate_rolled_back(engine: Engine, request: DeploymentRequest) -> None:
    """One whole placement in a SQLite write transaction, rolled back so every run sees the same zone."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            allocate(conn, request, PlannerSettings())
        finally:
            transaction.rollback()


def line(name: str, value: str, floor: str, ok: bool | None) -> bool:
    """Print one row of the table; returns whether it passed (True when it has no floor)."""
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"{name:<58} {value:>16} {floor:>12}  {verdict}")
    return ok is not False


def main() -> int:
    """Build the zone, measure, print the table; 1 when a floor is missed."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=2_000, help="decisions per planner and run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="bench-compute-") as work:
        engine = create_engine_for(f"sqlite:///{Path(work) / 'bench.db'}")
        try:
            upgrade(engine)
            build(engine, args.hosts, rng)
            probe = requests(rng, 1)[0]
            snapshot: Snapshot | None = None

            def read() -> None:
                nonlocal snapshot
                with engine.connect() as conn:
                    snapshot = load_snapshot(conn, probe, with_account_vms=True, all_tags=True)

            read_cpu, read_wall = best_cpu(args.runs, read)
            reserve_cpu, reserve_wall = best_cpu(args.runs, partial(allocate_rolled_back, engine, probe))
        finally:
            engine.dispose()
    assert snapshot is not None
    batch = requests(rng, args.decisions)
    print(
        f"zone of {len(snapshot.hosts)} hosts, "
        f"{len(snapshot.clusters)} clusters; {args.decisions} decisions per planner, best of {args.runs}\n"
    )
    print(f"{'figure':<58} {'measured':>16} {'floor':>12}  verdict")
    ok = line(
        "baseline: read the zone snapshot (CPU / wall)", f"{read_cpu * 1000:.1f} / {read_wall * 1000:.1f} ms", "", None
    )
    for algorithm in ALGORITHMS:
        settings = PlannerSettings(algorithm=algorithm)
        found = decide(snapshot, batch, settings, 0)
        cpu, wall = best_cpu(args.runs, partial(decide, snapshot, batch, settings, 0))
        rate = args.decisions / cpu if cpu else float("inf")
        ok &= line(
            f"{algorithm}: decisions/s (CPU; {found}/{args.decisions} placed)",
            f"{rate:,.0f}",
            f">= {DECISIONS_FLOOR:,.0f}",
            rate >= DECISIONS_FLOOR,
        )
        line("  ratio one decision / one snapshot read", f"{(cpu / args.decisions) / read_cpu:.4f}", "", None)
        line("  wall clock", f"{args.decisions / wall:,.0f}/s", "", None)
    impossible = DeploymentRequest(zone_id=1, cpu_number=128, cpu_speed=3000, memory_mib=1024, account_id=1)
    cpu, _ = best_cpu(args.runs, partial(decide, snapshot, [impossible], PlannerSettings(), 0))
    line("nothing fits: full scan + 533 text (CPU)", f"{cpu * 1000:.1f} ms", "", None)
    search = Search(snapshot, impossible, PlannerSettings())
    assert next(search.candidates(), None) is None
    print(f"  533 text: {search.explain()}")
    line(
        "allocate(): snapshot + plan + reserve (CPU / wall)",
        f"{reserve_cpu * 1000:.1f} / {reserve_wall * 1000:.1f} ms",
        "",
        None,
    )
    print("\nresult:", "all floors met" if ok else "a floor was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
