"""The API half of ``bench/compute.py``: deploying VMs through the real server, listing 100,000 VMs, and its RSS.

Run through ``bench/compute.py --part deploy|list`` (see its ``--help``). Reuses ``bench/api.py``'s server,
signing, percentile and private PostgreSQL helpers, so the figures are measured the same way.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from api import Server, serve, signed, timings  # bench/api.py (this directory is on sys.path)
from sqlalchemy import Connection, insert, select, text, update

from provisioner.db.engine import create_engine_for, run_in_transaction
from provisioner.db.schema import (
    account,
    cluster,
    configuration,
    guest_network,
    host,
    image_store,
    nic,
    pod,
    service_offering,
    storage_pool,
    template_store_ref,
    vm_instance,
    vm_template,
    volume,
    zone,
)
from provisioner.server.bootstrap import prepare_database
from provisioner.services.compute import ipam

GIB = 1024**3
#: Simulated hosts of the deploy zone: 10 clusters of 20, each 64 x 2000 MHz and 512 GiB (room for 12,000 small VMs).
CLUSTERS, HOSTS_PER_CLUSTER = 10, 20
#: A batch's jobs are listed every this many seconds; a batch gives up after ``BATCH_TIMEOUT``.
POLL, BATCH_TIMEOUT = 1.0, 1800.0


@dataclass(frozen=True)
class Zone:
    """Public ids a deployment names."""

    zone: str
    offering: str
    template: str
    network: str


def build_zone(conn: Connection) -> Zone:
    """A simulated zone (hosts Up, pools, a Ready template, the admin's guest network), inserted in bulk."""
    admin = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == "admin")).one()
    zone_id = conn.execute(
        insert(zone).values(name="bench", network_type="Advanced", allocation_state="Enabled", zone_token="t")
    ).inserted_primary_key[0]  # type: ignore[index]
    pod_id = conn.execute(insert(pod).values(name="bench-pod", zone_id=zone_id)).inserted_primary_key[0]  # type: ignore[index]
    for c in range(CLUSTERS):
        cluster_id = conn.execute(
            insert(cluster).values(name=f"bc{c}", zone_id=zone_id, pod_id=pod_id, hypervisor_type="Simulator")
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(host),
            [
                {
                    "name": f"bc{c}-h{h}",
                    "status": "Up",
                    "resource_state": "Enabled",
                    "hypervisor_type": "Simulator",
                    "url": f"http://sim/bc{c}/h{h}?cpucore=64&cpuspeed=2000&memory={512 * GIB}",
                    "cpu_cores": 64,
                    "cpu_speed": 2000,
                    "memory": 512 * GIB,
                    "zone_id": zone_id,
                    "pod_id": pod_id,
                    "cluster_id": cluster_id,
                    "driver": "simulator",
                }
                for h in range(HOSTS_PER_CLUSTER)
            ],
        )
        conn.execute(
            insert(storage_pool).values(
                name=f"bc{c}-ps",
                pool_type="NetworkFilesystem",
                scope="CLUSTER",
                url=f"nfs://nfs.example/bc{c}",
                capacity_bytes=1 << 50,
                state="Up",
                zone_id=zone_id,
                pod_id=pod_id,
                cluster_id=cluster_id,
            )
        )
    offering = conn.execute(
        insert(service_offering).values(
            name="bench-tiny", display_text="tiny", cpu_number=1, cpu_speed=100, memory=64, root_disk_size=GIB
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    template = conn.execute(
        insert(vm_template).values(
            name="bench-tmpl",
            display_text="bench",
            format="QCOW2",
            hypervisor_type="Simulator",
            is_public=True,
            size=GIB,
            account_id=admin.id,
            domain_id=admin.domain_id,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    store = conn.execute(
        insert(image_store).values(
            name="bench-ss", url="nfs://nfs.example/secondary", protocol="nfs", provider="NFS", zone_id=zone_id
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    conn.execute(
        insert(template_store_ref).values(
            template_id=template,
            store_id=store,
            zone_id=zone_id,
            state="Ready",
            download_state="DOWNLOADED",
            download_pct=100,
            install_path="template/tmpl/1/bench.qcow2",
            size=GIB,
        )
    )
    network = ipam.create_guest_network(
        conn,
        {
            "name": "bench-net",
            "zone_id": zone_id,
            "cidr": "10.64.0.0/14",
            "gateway": "10.64.0.1",
            "account_id": admin.id,
            "domain_id": admin.domain_id,
        },
    )

    def uuid_of(table: Any, row_id: int) -> str:
        return str(conn.execute(select(table.c.uuid).where(table.c.id == row_id)).scalar_one())

    return Zone(
        uuid_of(zone, zone_id),
        uuid_of(service_offering, offering),
        uuid_of(vm_template, template),
        uuid_of(guest_network, network),
    )


def prepare(db_url: str, fill: Callable[[Connection], Any]) -> Any:
    """Migrate and seed the database as the server would, then run ``fill`` in one transaction."""
    engine = create_engine_for(db_url)
    try:
        prepare_database(engine)
        filled = run_in_transaction(engine, fill, max_seconds=3600)
        if engine.dialect.name == "postgresql":
            # After a bulk load, as after a restore: what autovacuum does to a table after many inserts
            # (``autovacuum_vacuum_insert_threshold``, PostgreSQL 13+), without waiting the minute or more it takes
            # to notice: fresh planner statistics (else the list is measured against a table PostgreSQL thinks is
            # empty) and the visibility map (index-only scans, as a live server has them once autovacuum ran).
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        return filled
    finally:
        engine.dispose()


# -- deploying through the API -----------------------------------------------------------------


def call(client: httpx.Client, server: Server, **params: str) -> dict[str, Any]:
    """One signed GET; returns the body under its ``<command>response`` key."""
    answer = client.get(server.url, params=signed(server, **params))
    body = answer.json()
    (value,) = body.values()
    if answer.status_code != 200:
        raise RuntimeError(f"{params['command']} answered {answer.status_code}: {value}")
    return dict(value)


def deploy_batch(server: Server, zone: Zone, start: int, size: int, clients: int) -> tuple[int, int]:
    """Submit ``size`` deployVirtualMachine requests from ``clients`` connections, wait for every job.

    The batch is followed as a client following a thousand jobs would: ``listAsyncJobs`` since the batch began
    (pages of 500) every :data:`POLL` seconds, not one ``queryAsyncJobResult`` per pending job in a tight loop
    (a thousand requests a sweep, which kept the server busy answering polls instead of deploying). A job counts
    as deployed when it succeeded and its result is the VM, Running.

    Returns:
        (succeeded, failed) job counts.
    """
    names = [f"vm{start + i}" for i in range(size)]
    since = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")  # UTC, as stored

    def submit(chunk: list[str]) -> list[str]:
        with httpx.Client(timeout=120) as client:
            return [
                call(
                    client,
                    server,
                    command="deployVirtualMachine",
                    zoneid=zone.zone,
                    serviceofferingid=zone.offering,
                    templateid=zone.template,
                    networkids=zone.network,
                    name=name,
                )["jobid"]
                for name in chunk
            ]

    chunks = [names[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        jobs = list(itertools.chain.from_iterable(pool.map(submit, chunks)))
    pending, ok, failed = set(jobs), 0, 0
    deadline = time.monotonic() + BATCH_TIMEOUT
    with httpx.Client(timeout=120) as client:
        while pending and time.monotonic() < deadline:
            for page in itertools.count(1):
                body = call(client, server, command="listAsyncJobs", startdate=since, page=str(page), pagesize="500")
                rows = body.get("asyncjobs", [])
                for job in rows:
                    if job["jobid"] not in pending or job["jobstatus"] == 0:
                        continue
                    pending.discard(job["jobid"])
                    vm = (job.get("jobresult") or {}).get("virtualmachine") or {}
                    if job["jobstatus"] == 1 and vm.get("state") == "Running":
                        ok += 1
                    else:
                        failed += 1
                if len(rows) < 500:
                    break
            if pending:
                time.sleep(POLL)
    return ok, failed + len(pending)


def bench_deploy(name: str, db_url: str, work: Path, total: int, *, batch: int, clients: int) -> dict[str, float]:
    """Deploy ``total`` VMs in batches through a live server; returns VMs/s and the baseline requests/s."""
    zone = prepare(db_url, build_zone)
    data_dir = work / f"{name}-deploy"
    data_dir.mkdir()
    with serve(db_url, data_dir) as server, httpx.Client(timeout=60) as client:
        base = timings(client, server, 200, 20, command="listCapabilities")
        started, done, failed = time.monotonic(), 0, 0
        for first in range(0, total, batch):
            t0 = time.monotonic()
            ok, bad = deploy_batch(server, zone, first, min(batch, total - first), clients)
            done, failed = done + ok, failed + bad
            load = os.getloadavg()[0]
            rate = ok / (time.monotonic() - t0)
            print(
                f"    batch {first // batch + 1}: {ok} Running, {bad} failed, {rate:.1f} VMs/s (load {load:.1f})",
                flush=True,
            )
        elapsed = time.monotonic() - started
        rss = server.rss_mb()
    return {
        "load": os.getloadavg()[0],
        "vms_per_s": done / elapsed,
        "failed": failed,
        "baseline_per_s": 1000.0 / base.p50,
        "rss_mb": rss,
    }


# -- listing 100,000 VMs -------------------------------------------------------------------------


def fill_vms(count: int) -> Callable[[Connection], Zone]:
    """A filler inserting ``count`` Running VMs (one NIC and ROOT volume each) spread over the zone's hosts."""

    def fill(conn: Connection) -> Zone:
        built = build_zone(conn)
        # These VMs exist only as rows: the simulated hosts do not run them, and the host health round would
        # (rightly) stop every one of them as vanished. The list is measured without that round.
        conn.execute(
            update(configuration)
            .where(configuration.c.name == "ping.interval", configuration.c.scope_id == 0)
            .values(value="86400")
        )
        admin = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == "admin")).one()
        ids = {
            "zone": conn.execute(select(zone.c.id).where(zone.c.uuid == built.zone)).scalar_one(),
            "offering": conn.execute(
                select(service_offering.c.id).where(service_offering.c.uuid == built.offering)
            ).scalar_one(),
            "template": conn.execute(select(vm_template.c.id).where(vm_template.c.uuid == built.template)).scalar_one(),
            "network": conn.execute(
                select(guest_network.c.id).where(guest_network.c.uuid == built.network)
            ).scalar_one(),
        }
        hosts = conn.execute(
            select(host.c.id, host.c.pod_id, host.c.cluster_id).where(host.c.zone_id == ids["zone"])
        ).all()
        pools = {r.cluster_id: r.id for r in conn.execute(select(storage_pool.c.id, storage_pool.c.cluster_id))}
        first = int(conn.execute(select(vm_instance.c.id).order_by(vm_instance.c.id.desc())).scalar() or 0) + 1
        for start in range(0, count, 5000):
            vms, nics, volumes = [], [], []
            for n in range(start, min(count, start + 5000)):
                vm_id, where = first + n, hosts[n % len(hosts)]
                vms.append(
                    {
                        "id": vm_id,
                        "uuid": f"00000000-0000-4000-8000-{vm_id:012x}",
                        "name": f"lvm{n}",
                        "display_name": f"lvm{n}",
                        "instance_name": f"i-{admin.id}-{vm_id}-VM",
                        "state": "Running",
                        "power_state": "PowerOn",
                        "hypervisor_type": "Simulator",
                        "host_id": where.id,
                        "pod_id": where.pod_id,
                        "cluster_id": where.cluster_id,
                        "zone_id": ids["zone"],
                        "service_offering_id": ids["offering"],
                        "template_id": ids["template"],
                        "account_id": admin.id,
                        "domain_id": admin.domain_id,
                        "cpu_number": 1,
                        "cpu_speed": 100,
                        "memory": 64,
                        "details": {},
                    }
                )
                nics.append(
                    {
                        "uuid": f"00000000-0000-4000-9000-{vm_id:012x}",
                        "vm_id": vm_id,
                        "network_id": ids["network"],
                        "ip_address": f"10.{64 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}",
                        "netmask": "255.252.0.0",
                        "gateway": "10.64.0.1",
                        "mac_address": "1e:00:" + ":".join(f"{(n >> s) & 255:02x}" for s in (24, 16, 8, 0)),
                        "device_id": 0,
                        "is_default": True,
                    }
                )
                volumes.append(
                    {
                        "uuid": f"00000000-0000-4000-a000-{vm_id:012x}",
                        "name": f"ROOT-{vm_id}",
                        "volume_type": "ROOT",
                        "state": "Ready",
                        "size": GIB,
                        "pool_id": pools[where.cluster_id],
                        "vm_id": vm_id,
                        "device_id": 0,
                        "template_id": ids["template"],
                        "account_id": admin.id,
                        "domain_id": admin.domain_id,
                        "zone_id": ids["zone"],
                    }
                )
            conn.execute(insert(vm_instance), vms)
            conn.execute(insert(nic), nics)
            conn.execute(insert(volume), volumes)
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('vm_instance', 'id'), (SELECT max(id) FROM vm_instance))")
            )
        return built

    return fill


def bench_list(name: str, db_url: str, work: Path, vms: int, count: int) -> dict[str, float]:
    """Insert ``vms`` VMs, serve, and time ``listVirtualMachines pagesize=500`` against ``listCapabilities``."""
    started = time.monotonic()
    prepare(db_url, fill_vms(vms))
    loaded = time.monotonic() - started
    data_dir = work / f"{name}-list"
    data_dir.mkdir()
    try:
        return _measure_list(db_url, data_dir, vms, count) | {"loaded_s": loaded}
    except Exception:
        log = data_dir / "server.log"
        print(log.read_text(errors="replace")[-4000:] if log.exists() else "(no server log)", flush=True)
        raise


def _measure_list(db_url: str, data_dir: Path, vms: int, count: int) -> dict[str, float]:
    with serve(db_url, data_dir) as server, httpx.Client(timeout=120) as client:
        base = timings(client, server, count, 20, command="listCapabilities")
        series = timings(
            client, server, count, 20, command="listVirtualMachines", page="1", pagesize="500", listall="true"
        )
        deep = timings(
            client,
            server,
            max(20, count // 5),
            5,
            command="listVirtualMachines",
            page="150",
            pagesize="500",
            listall="true",
        )
        body = call(client, server, command="listVirtualMachines", page="1", pagesize="500", listall="true")
        if body.get("count") != vms or len(body.get("virtualmachine", [])) != 500:
            rows = len(body.get("virtualmachine", []))
            raise RuntimeError(f"listVirtualMachines answered count={body.get('count')} with {rows} rows")
        load = os.getloadavg()[0]
        time.sleep(1.0)
        rss = server.rss_mb()
    return {
        "load": load,
        "base_p50": base.p50,
        "base_p99": base.p99,
        "p50": series.p50,
        "p99": series.p99,
        "cpu_ms": series.cpu_per_request,
        "deep_p50": deep.p50,
        "deep_p99": deep.p99,
        "rss_mb": rss,
    }
