"""``listHosts`` builds its wire rows directly: they must equal what :class:`HostResponse` would dump."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from provisioner.api.commands.hosts import HostResponse, wire_host
from provisioner.api.responses import dump
from provisioner.db.schema import account, async_job, host, new_uuid, user
from provisioner.services.configuration import set_scoped_value
from provisioner.services.infrastructure import hosts
from provisioner.services.infrastructure.settings import CPU_OVERPROVISIONING
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.builders import sim_zone
from tests.unit.services.infrastructure.conftest import Run


def test_the_list_fast_path_equals_the_response_model(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=3)
        hosts.update_host(conn, admin, sim.hosts[0], hosttags="gpu,ssd")
        # Every optional field both present and absent, odd allocations, and a cluster-scoped factor.
        conn.execute(
            update(host)
            .where(host.c.uuid == sim.hosts[1])
            .values(
                cpu_allocated=1234,
                memory_allocated=(1 << 30) + 17,
                disconnected=datetime(2026, 1, 2, 3, 4, 5),
                hypervisor_version=None,
            )
        )
        cluster_id = conn.execute(host.select().where(host.c.uuid == sim.hosts[0])).mappings().one()["cluster_id"]
        set_scoped_value(conn, CPU_OVERPROVISIONING, "2.5", "cluster", cluster_id)
        rows, total = hosts.list_hosts(conn, admin, page=1, pagesize=500)
        assert total == 3
        for row in rows:
            expected = dump(HostResponse.model_validate(row))
            assert wire_host(dict(row)) == expected
        assert {row["cpuwithoverprovisioning"] for row in rows} == {"80000"}  # 4 x 8000 MHz x 2.5
        assert rows[1]["cpuallocatedwithoverprovisioning"] == "1.54%"
        assert rows[1]["disconnected"] == "2026-01-02T03:04:05+0000"  # formatted by the database, as format_date does

    run(check)


def test_pages_are_key_ranges_with_the_total(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=5)
        pages = [hosts.list_hosts(conn, admin, page=number, pagesize=2) for number in (1, 2, 3, 4)]
        assert [[row["id"] for row in rows] for rows, _ in pages] == [
            list(sim.hosts[0:2]),
            list(sim.hosts[2:4]),
            list(sim.hosts[4:5]),
            [],
        ]
        assert [total for _, total in pages] == [5, 5, 5, 5]
        rows, total = hosts.list_hosts(conn, admin, state="Up", page=2, pagesize=2, keyword="nothing-such")
        assert (rows, total) == ([], 0)
        assert hosts.list_hosts(conn, admin)[1] == 5

    run(check)


def test_a_running_job_shows_as_jobid_and_jobstatus(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=2)
        owner = conn.execute(select(user.c.id, user.c.account_id, account.c.domain_id).join(account)).first()
        assert owner is not None

        def job(host_uuid: str, status: int) -> str:
            uuid = new_uuid()
            conn.execute(
                insert(async_job).values(
                    uuid=uuid,
                    user_id=owner.id,
                    account_id=owner.account_id,
                    domain_id=owner.domain_id,
                    cmd="prepareHostForMaintenance",
                    params={},
                    status=status,
                    instance_type="Host",
                    instance_id=host_uuid,
                )
            )
            return uuid

        job(sim.hosts[1], 1)  # finished: not shown
        running = job(sim.hosts[0], 0)
        rows, _ = hosts.list_hosts(conn, admin, page=1, pagesize=10)
        assert (rows[0]["jobid"], rows[0]["jobstatus"]) == (running, 0)
        assert "jobid" not in rows[1] and "jobstatus" not in rows[1]
        assert wire_host(dict(rows[0])) == dump(HostResponse.model_validate(rows[0]))

    run(check)
