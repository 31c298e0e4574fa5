"""What the driver is asked for (spec, seed, NICs, overlay), the expunger's timing, and listVirtualMachines' cost."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert, select

from provisioner.api.commands.virtual_machines import NicResponse, VirtualMachineResponse
from provisioner.api.responses import dump
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.compute.types import VMSpec
from provisioner.db.schema import account, configuration, ssh_keypair, vm_instance, vm_iso, vm_template
from provisioner.services import tags
from provisioner.services.compute import groups
from provisioner.services.compute.host_drivers import use_host_driver_opener
from provisioner.services.compute.lifecycle import expunge, service, views
from provisioner.services.networks import nics
from tests.unit.services.compute.lifecycle.conftest import SimCloud

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVhc3kgZWFzeSBlYXN5IGVhc3kgZWFzeSBlYXN5IGVh alice@laptop"


class RecordingDriver(SimulatorDriver):
    """The simulator, remembering every spec it was asked to define."""

    defined: list[VMSpec] = []

    def define_vm(self, spec: VMSpec) -> Any:
        RecordingDriver.defined.append(spec)
        return super().define_vm(spec)


@contextmanager
def recording() -> Iterator[list[VMSpec]]:
    RecordingDriver.defined = []

    def opener(row: Mapping[str, Any]) -> SimulatorDriver:
        return RecordingDriver(row["url"])

    with use_host_driver_opener(opener):
        yield RecordingDriver.defined


def test_the_driver_gets_the_allocated_mac_the_seed_and_the_template_overlay(sim: SimCloud) -> None:
    with sim.engine.begin() as conn:
        alice = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == "alice")).one()
        conn.execute(
            insert(ssh_keypair).values(
                keypair_name="laptop", fingerprint="f", public_key=KEY, account_id=alice.id, domain_id=alice.domain_id
            )
        )
    userdata = base64.b64encode(b"#cloud-config\nruncmd: [echo hi]\n").decode()
    with recording() as defined:
        uuid = service.create(sim.engine, sim.alice, sim.params(name="seeded", keypair="laptop", userdata=userdata))
        vm = service.deploy_vm(sim.engine, sim.alice, uuid)
    (spec,) = defined
    assert spec.name.startswith("i-") and spec.uuid == uuid and spec.vcpus == 1 and spec.memory_bytes == 1 << 30
    assert [n.mac for n in spec.nics] == [vm["nic"][0]["macaddress"]]
    assert spec.nics[0].bridge == "cloudbr0"
    assert spec.seed is not None and spec.seed.user_data == "#cloud-config\nruncmd: [echo hi]\n"
    assert spec.seed.ssh_public_keys == (KEY,) and spec.seed.hostname == "seeded"
    (root,) = spec.disks
    assert root.device_id == 0 and root.size_bytes == 10 << 30 and root.volume_uuid


def test_the_expunger_waits_for_expunge_delay(sim: SimCloud) -> None:
    uuid = service.create(sim.engine, sim.alice, sim.params(name="old"))
    service.deploy_vm(sim.engine, sim.alice, uuid)
    service.destroy_vm(sim.engine, sim.alice, uuid)
    assert expunge.expunge_round(sim.engine, 1) == 0, "expunge.delay (a day by default) has not passed"
    with sim.engine.begin() as conn:
        conn.execute(insert(configuration).values(name="expunge.delay", value="0", scope="global", scope_id=0))
    assert expunge.expunge_round(sim.engine, 1) == 1
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.removed).where(vm_instance.c.uuid == uuid)).scalar() is not None
    assert expunge.EXPUNGER.interval_setting == "expunge.interval"


def test_list_costs_the_same_statements_for_one_vm_and_for_many(sim: SimCloud) -> None:
    for i in range(2):
        service.create(sim.engine, sim.alice, sim.params(name=f"few-{i}", startvm=False))

    def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(sim.engine, "before_cursor_execute", count)
        try:
            with sim.engine.begin() as conn:
                rows, total = views.list_vms(conn, sim.admin, listall=True, page=1, pagesize=500)
                assert total == len(rows)
        finally:
            event.remove(sim.engine, "before_cursor_execute", count)
        return len([s for s in seen if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))])

    few = statements()
    for i in range(12):
        service.create(sim.engine, sim.alice, sim.params(name=f"many-{i}", startvm=False))
    assert statements() == few <= 5


def test_list_counts_every_match_on_every_page(sim: SimCloud) -> None:
    """The total is counted (on PostgreSQL while the page's rows are built) unless the page itself proves it."""
    names = [f"count-{i}" for i in range(5)]
    ids = [service.create(sim.engine, sim.alice, sim.params(name=n, startvm=False)) for n in names]
    service.create(sim.engine, sim.admin, sim.params(name="not-alices", startvm=False))

    def listed(caller: Any, **f: Any) -> tuple[list[str], int]:
        with sim.engine.begin() as conn:
            rows, total = views.list_vms(conn, caller, **f)
        return [row["name"] for row in rows], total

    assert listed(sim.alice, page=1, pagesize=2) == (names[:2], 5)  # a full page: counted
    assert listed(sim.alice, page=3, pagesize=2) == (names[4:], 5)  # the last page proves it
    assert listed(sim.alice, page=4, pagesize=2) == ([], 5)  # past the end: counted
    assert listed(sim.alice, page=1, pagesize=5) == (names, 5)  # exactly full: counted
    assert listed(sim.alice) == (names, 5)
    # Filters with lists of parameters (IN) and a LIKE reach the count as they reach the page.
    assert listed(sim.admin, ids=ids[1:4], page=1, pagesize=1) == ([names[1]], 3)
    assert listed(sim.admin, listall=True, keyword="count-", page=1, pagesize=2) == (names[:2], 5)
    assert listed(sim.admin, listall=True, page=1, pagesize=2)[1] == 6


def test_the_list_fast_path_equals_the_response_model(sim: SimCloud) -> None:
    with sim.engine.begin() as conn:
        alice = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == "alice")).one()
        conn.execute(
            insert(ssh_keypair).values(
                keypair_name="laptop", fingerprint="f", public_key=KEY, account_id=alice.id, domain_id=alice.domain_id
            )
        )
        groups.create_affinity_group(conn, sim.alice, name="spread", type="host anti-affinity")
    uuid = service.create(
        sim.engine,
        sim.alice,
        sim.params(
            name="wired",
            userdata=base64.b64encode(b"x").decode(),
            details={"cpuNumber": "1", "rootdisksize": "10"},
            keypair="laptop",
            group="web",
            affinitygroupnames=["spread"],
        ),
    )
    service.deploy_vm(sim.engine, sim.alice, uuid)
    service.create(sim.engine, sim.alice, sim.params(name="parked", startvm=False))
    with sim.engine.begin() as conn:
        tags.create_tags(conn, sim.alice, resourceids=[uuid], resourcetype="UserVm", tags=[{"key": "k", "value": "v"}])
    for caller in (sim.alice, sim.admin):
        with sim.engine.begin() as conn:
            rows, _ = views.list_vms(conn, caller, listall=True)
            listed_nics = {
                row["id"]: [
                    dump(NicResponse.model_validate(entry))
                    for entry in nics.list_nics(conn, caller, virtualmachineid=row["id"])[0]
                ]
                for row in rows
            }
        assert len(rows) == 2
        for row in rows:
            assert row == dump(VirtualMachineResponse.model_validate(row))
            assert row["nic"] == listed_nics[row["id"]], "the list's NICs differ from listNics'"
        wired = next(row for row in rows if row["id"] == uuid)
        assert wired["details"] == {"cpuNumber": "1", "rootdisksize": "10"} and wired["keypair"] == "laptop"
        assert wired["group"] == "web" and [g["name"] for g in wired["affinitygroup"]] == ["spread"]
        assert [t["key"] for t in wired["tags"]] == ["k"] and wired["userdataid"]
        assert ("hostid" in wired) is caller.is_root_admin


def test_the_list_shows_the_attached_iso(sim: SimCloud) -> None:
    uuid = service.create(sim.engine, sim.alice, sim.params(name="with-iso", startvm=False))
    with sim.engine.begin() as conn:
        alice = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == "alice")).one()
        iso_id = conn.execute(
            insert(vm_template).values(
                name="rescue",
                display_text="Rescue CD",
                format="ISO",
                account_id=alice.id,
                domain_id=alice.domain_id,
            )
        ).inserted_primary_key[0]
        vm_id = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == uuid)).scalar_one()
        conn.execute(insert(vm_iso).values(vm_id=vm_id, template_id=iso_id))
        iso_uuid = conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == iso_id)).scalar_one()
        rows, _ = views.list_vms(conn, sim.alice, listall=True)
    (row,) = [r for r in rows if r["id"] == uuid]
    assert (row["isoid"], row["isoname"], row["isodisplaytext"]) == (iso_uuid, "rescue", "Rescue CD")
    assert row == dump(VirtualMachineResponse.model_validate(row))
