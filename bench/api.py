"""API benchmark: signed ``listHosts`` / ``listZones`` latency and idle RSS of the real server, SQLite and PostgreSQL.

DESCRIPTION below says what is measured and how; run ``.venv/bin/python bench/api.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Connection, insert, select

from provisioner.api.signing import sign
from provisioner.db.engine import create_engine_for, is_sqlite, run_in_transaction
from provisioner.db.schema import account, cluster, domain, host, role
from provisioner.db.schema import pod as pod_table
from provisioner.server.bootstrap import prepare_database
from provisioner.services.identity import auth
from provisioner.services.infrastructure import pods, zones

DESCRIPTION = """\
Loads 10,000 hosts (10 per cluster), 1,000 clusters (in 20 pods of 4 zones) and 25,000 accounts with bulk
inserts (then ANALYZE on PostgreSQL, as autovacuum would), starts the real server (``provisioner serve``, one
process, its own port and data directory), then sends signed requests (HMAC-SHA1, signatureVersion 3, as
``cs`` signs them) over one keep-alive connection: ``listHosts page=1 pagesize=500`` and ``listZones``, after
a warm-up, 200 of each, and prints p50/p99 of the wall-clock time per request, and the server's CPU time (user
+ system, from /proc) per request with the machine's load average: on a shared machine the wall clock also
measures the other work. The baseline is the same number of signed ``listCapabilities`` requests, which touch
no table: the ratio shows what the list costs beyond authentication and the HTTP path. The floors are judged
on the wall clock, as specified.

Floors: p50 <= 30 ms and p99 <= 150 ms for both lists; idle server RSS <= 150 MB (VmRSS of the server process,
read after the measured requests, once it has been idle for a second). Exit status 1 when a floor is missed.

Databases: a SQLite file, and a private PostgreSQL 15 cluster this script starts (initdb into a temporary
directory, unix socket only, no TCP listener; as the ``postgres`` user when run as root) and stops by its PID.
The machine's own PostgreSQL is not used.
"""

P50_FLOOR_MS = 30.0
P99_FLOOR_MS = 150.0
RSS_FLOOR_MB = 150.0
HOSTS, CLUSTERS, ACCOUNTS, ZONES, PODS_PER_ZONE = 10_000, 1_000, 25_000, 4, 5
PG_BIN = Path(os.environ.get("PROVISIONER_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 120.0
REPO_ROOT = Path(__file__).resolve().parents[1]


# -- the data ---------------------------------------------------------------------------------


def _load(conn: Connection) -> None:
    admin = auth.system_caller(conn)
    pod_ids: list[tuple[int, int]] = []
    for z in range(ZONES):
        made = zones.create_zone(
            conn, admin, name=f"zone-{z}", networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54"
        )
        zones.update_zone(conn, admin, made["id"], allocationstate="Enabled")
        for p in range(PODS_PER_ZONE):
            pod = pods.create_pod(
                conn,
                admin,
                zoneid=made["id"],
                name=f"pod-{z}-{p}",
                gateway=f"10.{z}.{p}.1",
                netmask="255.255.255.0",
                startip=f"10.{z}.{p}.10",
                endip=f"10.{z}.{p}.250",
            )
            located = conn.execute(
                select(pod_table.c.zone_id, pod_table.c.id).where(pod_table.c.uuid == pod["id"])
            ).one()
            pod_ids.append((located.zone_id, located.id))
    conn.execute(
        insert(cluster),
        [
            {
                "name": f"cluster-{c}",
                "zone_id": pod_ids[c % len(pod_ids)][0],
                "pod_id": pod_ids[c % len(pod_ids)][1],
                "hypervisor_type": "Simulator",
            }
            for c in range(CLUSTERS)
        ],
    )
    clusters = conn.execute(select(cluster.c.id, cluster.c.zone_id, cluster.c.pod_id).order_by(cluster.c.id)).all()
    now = datetime.now(UTC).replace(tzinfo=None)
    per_cluster = HOSTS // CLUSTERS
    conn.execute(
        insert(host),
        [
            {
                "name": f"host-{h}",
                "type": "Routing",
                "status": "Up",
                "resource_state": "Enabled",
                "hypervisor_type": "Simulator",
                "hypervisor_version": "4.19",
                "private_ip": f"10.{100 + h // 65536}.{h // 256 % 256}.{h % 256}",
                "url": f"http://sim/cluster-{h // per_cluster}/host-{h}",
                "cpu_cores": 4,
                "cpu_speed": 8000,
                "memory": 8 << 30,
                "cpu_allocated": 1000 * (h % 7),
                "memory_allocated": (h % 5) << 30,
                "zone_id": clusters[h // per_cluster].zone_id,
                "pod_id": clusters[h // per_cluster].pod_id,
                "cluster_id": clusters[h // per_cluster].id,
                "last_ping": now,
                "driver": "simulator",
                "driver_settings": {},
                "tags": "bench",
            }
            for h in range(HOSTS)
        ],
    )
    root = conn.execute(select(domain.c.id).where(domain.c.parent_id.is_(None))).scalar_one()
    user_role = conn.execute(select(role.c.id).where(role.c.role_type == "User").order_by(role.c.id)).scalars().first()
    conn.execute(
        insert(account),
        [{"name": f"acct-{a}", "type": 0, "role_id": user_role, "domain_id": root} for a in range(ACCOUNTS)],
    )


def load(db_url: str) -> float:
    """Migrate, seed and fill the database; returns the seconds it took."""
    started = time.monotonic()
    engine = create_engine_for(db_url)
    try:
        prepare_database(engine)
        run_in_transaction(engine, _load)
        if not is_sqlite(engine):
            # What autovacuum does within a minute of a bulk load (and what PostgreSQL's manual asks for after
            # one): without statistics the planner takes the 10,000-row host table for a handful of rows.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return time.monotonic() - started


# -- a private PostgreSQL cluster ------------------------------------------------------------


@contextlib.contextmanager
def private_postgres(work: Path) -> Iterator[str]:
    """A PostgreSQL 15 cluster in ``work`` on a unix socket; yields a database URL and stops the postmaster."""
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    work.mkdir(parents=True)
    if owner:
        os.chown(work, owner.pw_uid, owner.pw_gid)

    def run(*argv: str) -> None:
        subprocess.run(
            [str(PG_BIN / argv[0]), *argv[1:]],
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            cwd=work,
            timeout=120,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
        )

    # Unix socket only, in ``work``; still a port of its own, as the port also names the socket file and keys the
    # shared memory: two benchmarks (bench/api.py, bench/compute.py) running side by side never meet.
    data, port = work / "data", free_port()
    run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-k {work} -c listen_addresses='' -p {port} -c max_connections=100"
    run("pg_ctl", "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start")
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    try:
        run("createdb", "-h", str(work), "-p", str(port), "-U", "postgres", "bench")
        yield f"postgresql+psycopg://postgres@/bench?host={work}&port={port}"
    finally:
        os.kill(pid, signal.SIGINT)  # fast shutdown of exactly this postmaster
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``provisioner serve`` subprocess; stopped by its PID."""

    process: subprocess.Popen[bytes]
    url: str
    apikey: str = ""
    secretkey: str = ""

    def rss_mb(self) -> float:
        """The server's resident set (VmRSS) in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_ms(self) -> float:
        """CPU time (user + system) the server process has used so far, in milliseconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def provisioner_cli() -> str:
    """The ``provisioner`` entry point beside this interpreter."""
    found = Path(sys.executable).with_name("provisioner")
    return str(found) if found.exists() else shutil.which("provisioner") or "provisioner"


@contextlib.contextmanager
def serve(db_url: str, data_dir: Path) -> Iterator[Server]:
    """Start the server on a free loopback port, wait (bounded) for it, fetch the admin keys."""
    port = free_port()
    env = {**os.environ, "PROVISIONER_DB_URL": db_url, "PROVISIONER_DATA_DIR": str(data_dir)}
    with (data_dir / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [provisioner_cli(), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    server = Server(process, f"http://127.0.0.1:{port}/client/api")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {data_dir / 'server.log'}")
            try:
                httpx.get(server.url, params={"command": "listCapabilities"}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        keys = subprocess.run(
            [provisioner_cli(), "admin", "keys", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if keys.returncode != 0:
            raise RuntimeError("provisioner admin keys failed")
        pair = json.loads(keys.stdout)
        server.apikey, server.secretkey = pair["apikey"], pair["secretkey"]
        yield server
    finally:
        server.stop()


# -- measuring -------------------------------------------------------------------------------


def signed(server: Server, **params: str) -> dict[str, str]:
    """Request parameters signed as ``cs`` signs them (signature v3, expires in 10 minutes)."""
    expires = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    values = {
        **params,
        "response": "json",
        "apiKey": server.apikey,
        "signatureVersion": "3",
        "expires": expires,
    }
    return {**values, "signature": sign(values, server.secretkey)}


@dataclass
class Series:
    """One command's measured requests: wall-clock milliseconds each, and the server's CPU per request."""

    wall: list[float]
    cpu_per_request: float

    @property
    def p50(self) -> float:
        """Median wall-clock time."""
        return percentile(self.wall, 0.5)

    @property
    def p99(self) -> float:
        """99th percentile wall-clock time."""
        return percentile(self.wall, 0.99)


def timings(client: httpx.Client, server: Server, count: int, warmup: int, **params: str) -> Series:
    """``count`` signed requests (after ``warmup`` unmeasured ones), timed one by one."""
    result: list[float] = []
    cpu_before = 0.0
    for index in range(warmup + count):
        if index == warmup:
            cpu_before = server.cpu_ms()
        query = signed(server, **params)
        started = time.perf_counter()
        answer = client.get(server.url, params=query)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{params['command']} answered {answer.status_code}: {answer.text[:300]}")
        if index >= warmup:
            result.append(elapsed)
    return Series(result, (server.cpu_ms() - cpu_before) / count)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def check(label: str, value: float, floor: float, unit: str, failures: list[str]) -> None:
    """Print one figure against its floor; remember a miss."""
    ok = value <= floor
    print(f"  {label:<38} {value:9.1f} {unit:<3} floor <= {floor:g} {unit}  {'PASS' if ok else 'FAIL'}")
    if not ok:
        failures.append(label)


def bench_database(name: str, db_url: str, work: Path, count: int, failures: list[str]) -> None:
    """Load, serve and measure one database."""
    print(f"\n{name}: loading {HOSTS} hosts, {CLUSTERS} clusters, {ACCOUNTS} accounts ...", flush=True)
    print(f"  loaded in {load(db_url):.1f} s", flush=True)
    data_dir = work / f"{name}-data"
    data_dir.mkdir()
    with serve(db_url, data_dir) as server, httpx.Client(timeout=60) as client:
        base = timings(client, server, count, 20, command="listCapabilities")
        hosts = timings(client, server, count, 20, command="listHosts", page="1", pagesize="500")
        zones_ms = timings(client, server, count, 20, command="listZones")
        sample = client.get(server.url, params=signed(server, command="listHosts", page="1", pagesize="500"))
        body = sample.json()["listhostsresponse"]
        if body["count"] != HOSTS or len(body["host"]) != 500:
            raise RuntimeError(f"listHosts answered count={body['count']} with {len(body['host'])} rows")
        time.sleep(1.0)
        rss = server.rss_mb()
    print(f"  load average of the machine: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    print(
        f"  baseline listCapabilities               p50 {base.p50:6.1f} ms  p99 {base.p99:6.1f} ms"
        f"  server CPU {base.cpu_per_request:5.1f} ms/request"
    )
    for label, series in (("listHosts pagesize=500", hosts), ("listZones", zones_ms)):
        check(f"{label} p50", series.p50, P50_FLOOR_MS, "ms", failures)
        check(f"{label} p99", series.p99, P99_FLOOR_MS, "ms", failures)
        print(
            f"  {label:<38} ratio to baseline p50 {series.p50 / base.p50:5.1f}x, p99 {series.p99 / base.p99:5.1f}x;"
            f" server CPU {series.cpu_per_request:5.1f} ms/request"
        )
    check("idle server RSS", rss, RSS_FLOOR_MB, "MB", failures)


def main() -> int:
    """Run the benchmark on the chosen databases; 1 when a floor is missed."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per command (default 200)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the postgres user must reach its cluster directory inside
        if args.db in ("sqlite", "both"):
            bench_database("sqlite", f"sqlite:///{work / 'sqlite' / 'bench.db'}", work, args.requests, failures)
        if args.db in ("postgresql", "both"):
            with private_postgres(work / "pg") as url:
                bench_database("postgresql", url, work, args.requests, failures)
    print(f"\n{'FAIL: ' + ', '.join(failures) if failures else 'all floors met'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
