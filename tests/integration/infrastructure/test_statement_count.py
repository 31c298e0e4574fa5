"""SQL statements per list request do not grow with the page size or the number of rows (reference §13, 1-2).

The app is built in process on the server's own assembly (``provisioner.server.app.build_server``) and driven
through Starlette's TestClient on the unauthenticated integration API; a SQLAlchemy event counts every statement
the request sends. The job pool is not started (no lifespan), so nothing else talks to the database meanwhile.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

with warnings.catch_warnings():
    # Starlette 1.x warns that its TestClient wants the httpx2 fork; the httpx we have works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from provisioner.api.settings import ApiSettings
from provisioner.server.app import ServerLifecycle, build_server
from provisioner.services.infrastructure import (
    clusters,
    disk_offerings,
    hosts,
    image_stores,
    physical_networks,
    pods,
    service_offerings,
    storage_pools,
    vlan_ranges,
    zones,
)
from provisioner.services.principal import Caller

pytestmark = pytest.mark.integration

#: List commands and the filters they are asked with (ids filled in from the first zone).
LISTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("listHosts", {}),
    ("listHosts", {"type": "Routing", "state": "Up"}),
    ("listZones", {}),
    ("listZones", {"showcapacities": "true"}),
    ("listPods", {}),
    ("listClusters", {}),
    ("listClusters", {"showcapacities": "true"}),
    ("listStoragePools", {}),
    ("listImageStores", {}),
    ("listPhysicalNetworks", {}),
    ("listNetworkServiceProviders", {}),
    ("listVirtualRouterElements", {}),
    ("listVlanIpRanges", {}),
    ("listServiceOfferings", {}),
    ("listDiskOfferings", {}),
    ("listNetworkOfferings", {}),
    ("listOsTypes", {}),
    ("listCapacity", {}),
    ("listRegions", {}),
)


@dataclass
class Counter:
    """Counts the statements sent through an engine while ``active``."""

    active: bool = False
    statements: list[str] = field(default_factory=list)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.active:
            self.statements.append(statement)


@dataclass
class InProcess:
    """The in-process app, its engine and a statement counter."""

    client: TestClient
    engine: Engine
    lifecycle: ServerLifecycle
    counter: Counter

    def statements(self, command: str, **params: str) -> int:
        """The statements one request sends; the request must succeed."""
        self.counter.statements.clear()
        self.counter.active = True
        try:
            answer = self.client.get("/client/api", params={"command": command, "response": "json", **params})
        finally:
            self.counter.active = False
        assert answer.status_code == 200, answer.text
        return len(self.counter.statements)

    def run(self, work: Any) -> Any:
        """Run ``work(conn, admin)`` in a transaction."""
        admin = self.lifecycle.backend.system_caller()
        return self.lifecycle.backend.infrastructure.transaction(lambda conn: work(conn, admin))


@pytest.fixture
def in_process(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    monkeypatch.setenv("PROVISIONER_DATA_DIR", str(tmp_path / "data"))
    app, lifecycle = build_server(db_url, ApiSettings(integration=True))
    counter = Counter()
    event.listen(lifecycle.engine, "before_cursor_execute", counter)
    try:
        yield InProcess(TestClient(app, client=("127.0.0.1", 50000)), lifecycle.engine, lifecycle, counter)
    finally:
        lifecycle.engine.dispose()


def add_zone(conn: Connection, admin: Caller, index: int, host_count: int) -> None:
    """A zone with a physical network, pod, public range, cluster, ``host_count`` hosts, a pool and a store."""
    name = f"z{index}"
    zone = zones.create_zone(conn, admin, name=name, networktype="Advanced", dns1="8.8.8.8", internaldns1="10.0.0.2")
    network = physical_networks.create_physical_network(conn, admin, zoneid=zone["id"], name=f"{name}-pnet")
    physical_networks.add_traffic_type(conn, admin, physicalnetworkid=network["id"], traffictype="Public")
    pod = pods.create_pod(
        conn,
        admin,
        zoneid=zone["id"],
        name=f"{name}-pod",
        gateway=f"10.{index}.0.1",
        netmask="255.255.0.0",
        startip=f"10.{index}.0.10",
        endip=f"10.{index}.255.200",
    )
    vlan_ranges.create_vlan_ip_range(
        conn,
        admin,
        zoneid=zone["id"],
        gateway=f"172.{16 + index}.0.1",
        netmask="255.255.255.0",
        startip=f"172.{16 + index}.0.10",
        endip=f"172.{16 + index}.0.20",
        forvirtualnetwork=True,
    )
    cluster = clusters.add_cluster(
        conn, admin, zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c", hypervisor="Simulator"
    )[0]
    for number in range(host_count):
        hosts.add_host(
            conn,
            admin,
            zoneid=zone["id"],
            podid=pod["id"],
            clusterid=cluster["id"],
            hypervisor="Simulator",
            url=f"http://sim/{name}-c/h{number}",
            hosttags=["a", "b"],
        )
    storage_pools.create_storage_pool(
        conn,
        admin,
        zoneid=zone["id"],
        podid=pod["id"],
        clusterid=cluster["id"],
        name=f"{name}-ps",
        url=f"nfs://10.{index}.9.5/export/ps",
        tags="fast",
    )
    image_stores.add_image_store(conn, admin, url=f"nfs://10.{index}.9.6/export/ss", zoneid=zone["id"])
    service_offerings.create_service_offering(conn, admin, name=f"{name}-so", cpunumber=1, cpuspeed=500, memory=512)
    disk_offerings.create_disk_offering(conn, admin, name=f"{name}-do", disksize=5)


def counts(app: InProcess) -> dict[tuple[str, str], tuple[int, int]]:
    """Per list command: statements for a one-row page (full, so the total needs a COUNT) and a 500-row page."""
    result = {}
    for command, params in LISTS:
        key = (command, ",".join(f"{k}={v}" for k, v in sorted(params.items())))
        small = app.statements(command, page="1", pagesize="1", **params)
        large = app.statements(command, page="1", pagesize="500", **params)
        result[key] = (small, large)
    return result


def test_list_statements_do_not_grow(in_process: InProcess) -> None:
    in_process.run(lambda conn, admin: add_zone(conn, admin, 1, host_count=3))
    few = counts(in_process)
    for index in range(2, 6):
        in_process.run(lambda conn, admin, index=index: add_zone(conn, admin, index, host_count=40))
    many = counts(in_process)
    for key, (small, large) in few.items():
        many_small, many_large = many[key]
        # A short first page proves the total, so its COUNT is skipped: fewer statements, never more.
        assert large <= small and many_large <= many_small, (key, few[key], many[key])
        assert many_small == small, (key, few[key], many[key])
        assert max(small, many_small) <= 10, (key, few[key], many[key])
    hosts_listed = in_process.client.get(
        "/client/api", params={"command": "listHosts", "response": "json", "pagesize": "500", "page": "1"}
    ).json()["listhostsresponse"]
    assert hosts_listed["count"] == 163 and len(hosts_listed["host"]) == 163
