"""Start-up: several servers at once on one database, ``db upgrade``, masked database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cs import CloudStack, CloudStackApiException
from sqlalchemy import func, select

from provisioner.db.engine import create_engine_for
from provisioner.db.schema import account, domain, mshost, service_offering, user
from provisioner.server.bootstrap import masked
from tests.support.server import LiveServer, free_port, require_tool, start_server

pytestmark = pytest.mark.integration


def test_servers_starting_together_seed_once(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "shared"  # one server key for all nodes of the cloud
    data_dir.mkdir()
    servers = [LiveServer(db_url, data_dir, free_port(), [require_tool("provisioner")]) for _ in range(3)]
    for index, server in enumerate(servers):
        server.log_path = data_dir / f"server-{index}.log"
        server.launch()
    try:
        for server in servers:
            server.wait_ready()
        engine = create_engine_for(db_url)
        try:
            with engine.connect() as conn:
                count = lambda table, *where: conn.execute(select(func.count()).select_from(table).where(*where))  # noqa: E731
                assert count(domain, domain.c.path == "/").scalar_one() == 1
                assert count(user, user.c.username == "admin").scalar_one() == 1
                assert count(account).scalar_one() == 1
                assert count(service_offering, service_offering.c.name == "Small Instance").scalar_one() == 1
                assert count(mshost, mshost.c.state == "Up").scalar_one() == 3
        finally:
            engine.dispose()
        done = servers[0].cli("admin", "keys", "--json")
        assert done.returncode == 0, done.stderr
    finally:
        for server in servers:
            server.stop()
    assert all(server.process is not None and server.process.returncode == 0 for server in servers)


def test_db_upgrade_and_admin_keys_text(live_server: LiveServer) -> None:
    upgraded = live_server.cli("db", "upgrade")
    assert upgraded.returncode == 0 and "is at revision" in upgraded.stderr
    text = live_server.cli("admin", "keys")
    assert text.returncode == 0 and text.stdout.startswith("apikey: ") and "secretkey: " in text.stdout


def test_database_urls_are_masked() -> None:
    shown = masked("postgresql+psycopg://cloud:hunter2@db.example.org:5432/cloud")
    assert "hunter2" not in shown and shown.startswith("postgresql+psycopg://cloud:***@db.example.org")
    assert "hunter2" not in masked("not a url hunter2")


def test_integration_port_is_unsigned_and_loopback(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    server = start_server(db_url, tmp_path / "server", extra_args=["--integration-port", str(port)])
    try:
        # cs without key and secret sends unsigned requests, as for CloudStack's integration.api.port.
        unsigned = CloudStack(endpoint=f"http://127.0.0.1:{port}/client/api", key="", secret="", timeout=30)
        assert unsigned.listDomains()["domain"][0]["path"] == "ROOT"
        assert f"integration API (unauthenticated) on http://127.0.0.1:{port}/client/api" in server.log()
        with pytest.raises(CloudStackApiException) as refused:
            CloudStack(endpoint=server.url, key="", secret="", timeout=30).listDomains()
        assert refused.value.error["errorcode"] == 401
    finally:
        server.stop()
