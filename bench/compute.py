"""Compute benchmark: allocator decisions per second over a 10,000-host zone, against reading its snapshot."""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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

``--part deploy`` and ``--part list`` measure the real server (``provisioner serve``, 4 job workers) on a
simulated zone of 200 hosts, on a SQLite file and on a private PostgreSQL cluster (``--db``):

- deploy: ``--deploy`` VMs (12,000) through the API in batches of ``--batch`` (1,000): each batch is that
  many signed ``deployVirtualMachine`` requests from ``--clients`` connections, then ``listAsyncJobs`` (since
  the batch began, once a second) until every job ended; a job counts when its result is the VM, Running.
  Floor: 40 VMs/s end to end (submit to the last Running), every job Running.
  Baseline: signed ``listCapabilities`` requests per second (p50) in the same server;
- list: ``--vms`` Running VMs (100,000, one NIC and one ROOT volume each) inserted in bulk, then
  ``listVirtualMachines page=1 pagesize=500 listall=true`` timed one by one after a warm-up (p50/p99 wall
  clock; floor p50 <= 30 ms, p99 <= 150 ms), a deep page (150) for information, the ratio to the same
  number of ``listCapabilities`` (baseline), and the server's RSS afterwards (floor <= 1 GiB).
"""

DECISIONS_FLOOR = 2000.0
DEPLOY_FLOOR = 40.0  # VMs/s end to end
LIST_P50_FLOOR, LIST_P99_FLOOR, RSS_FLOOR_MB = 30.0, 150.0, 1024.0
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


def databases(which: str, work: Path) -> Iterator[tuple[str, str]]:
    """(name, URL) of a fresh SQLite file and/or a private PostgreSQL cluster (stopped after its turn)."""
    from api import private_postgres  # bench/api.py

    if which in ("sqlite", "both"):
        yield "sqlite", f"sqlite:///{work / 'api.db'}"
    if which in ("postgresql", "both"):
        with private_postgres(work / "pg") as url:
            yield "postgresql", url


def api_parts(args: argparse.Namespace) -> int:
    """The deploy and list parts against the real server; 1 when a floor is missed."""
    import compute_api  # bench/compute_api.py

    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-compute-api-") as tmp:
        os.chmod(tmp, 0o755)  # the postgres user must reach its cluster directory inside
        for name, url in databases(args.db, Path(tmp)):
            work = Path(tmp) / name
            work.mkdir()
            print(f"\n{name}", flush=True)
            if args.part in ("deploy", "all"):
                got = compute_api.bench_deploy(name, url, work, args.deploy, batch=args.batch, clients=args.clients)
                ok &= line(
                    f"deploy {args.deploy} VMs through the API ({got['failed']:.0f} failed, load {got['load']:.1f})",
                    f"{got['vms_per_s']:.1f} VMs/s",
                    f">= {DEPLOY_FLOOR:.0f}",
                    got["vms_per_s"] >= DEPLOY_FLOOR and got["failed"] == 0,
                )
                line("  baseline listCapabilities (1/p50)", f"{got['baseline_per_s']:.0f}/s", "", None)
                line(
                    "  ratio deployed VMs / baseline requests",
                    f"{got['vms_per_s'] / got['baseline_per_s']:.3f}",
                    "",
                    None,
                )
                line("  server RSS after the deployments", f"{got['rss_mb']:.0f} MB", "", None)
            if args.part in ("list", "all"):
                got = compute_api.bench_list(name, url, work, args.vms, args.requests)
                line(f"  loaded {args.vms} VMs in", f"{got['loaded_s']:.1f} s", "", None)
                line(
                    "  baseline listCapabilities p50 / p99",
                    f"{got['base_p50']:.1f} / {got['base_p99']:.1f} ms",
                    "",
                    None,
                )
                ok &= line(
                    f"listVirtualMachines pagesize=500 p50 (load {got['load']:.1f})",
                    f"{got['p50']:.1f} ms",
                    f"<= {LIST_P50_FLOOR:.0f} ms",
                    got["p50"] <= LIST_P50_FLOOR,
                )
                ok &= line(
                    "listVirtualMachines pagesize=500 p99",
                    f"{got['p99']:.1f} ms",
                    f"<= {LIST_P99_FLOOR:.0f} ms",
                    got["p99"] <= LIST_P99_FLOOR,
                )
                line(
                    "  ratio to baseline p50 / p99",
                    f"{got['p50'] / got['base_p50']:.1f}x / {got['p99'] / got['base_p99']:.1f}x",
                    "",
                    None,
                )
                line("  server CPU per list request", f"{got['cpu_ms']:.1f} ms", "", None)
                line("  page 150 p50 / p99", f"{got['deep_p50']:.1f} / {got['deep_p99']:.1f} ms", "", None)
                ok &= line(
                    f"server RSS with {args.vms} VMs",
                    f"{got['rss_mb']:.0f} MB",
                    f"<= {RSS_FLOOR_MB:.0f} MB",
                    got["rss_mb"] <= RSS_FLOOR_MB,
                )
    print(f"  load average of the machine: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    print("\nresult:", "all floors met" if ok else "a floor was missed")
    return 0 if ok else 1


def main() -> int:
    """Build the zone, measure, print the table; 1 when a floor is missed."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["allocator", "deploy", "list", "all"], default="allocator")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=2_000, help="decisions per planner and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--deploy", type=int, default=12_000, help="VMs deployed through the API")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=8, help="connections submitting each batch")
    parser.add_argument("--vms", type=int, default=100_000, help="VMs listed")
    parser.add_argument("--requests", type=int, default=200, help="measured list requests")
    args = parser.parse_args()
    if args.part != "allocator":
        code = api_parts(args)
        if args.part != "all":
            return code
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
