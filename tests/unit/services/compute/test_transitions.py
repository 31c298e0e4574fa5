"""VM transitions with their capacity effects, and the reconciler after a simulated crash mid-transition."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, insert, select, update

from provisioner.compute.types import PowerState, VMState
from provisioner.db.schema import async_job, host, ip_address, nic, storage_pool, vm_instance, volume
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.compute import capacity, transitions
from provisioner.services.compute.states import VMEvent
from provisioner.services.compute.transitions import (
    begin_expunge,
    destroy_vm,
    finish_expunge,
    recover_vm,
    report_power,
    start_vm,
    transition,
)
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm, vm_row
from provisioner.services.jobs.recovery import fail_orphans
from tests.unit.services.compute.cloud import FIRSTFIT, GIB, Cloud


@pytest.fixture
def setup(cloud: Cloud) -> tuple[Cloud, list[int], int, int]:
    c1 = cloud.cluster("c1")
    hosts = [cloud.host(c1, "h1"), cloud.host(c1, "h2")]
    pool = cloud.pool("p1", cluster_id=c1)
    return cloud, hosts, pool, cloud.network()


def deploy(cloud: Cloud, net: int, name: str = "vm", **values: object) -> int:
    fields: dict[str, object] = {
        "name": name,
        "zone_id": cloud.zone_id,
        "service_offering_id": cloud.offering(name, cpu=2, speed=1000, memory=1024),
        "account_id": cloud.accounts["alice"],
        "domain_id": cloud.domain_id,
        "nics": (NicRequest(net),),
    }
    fields.update(values)
    with cloud.engine.begin() as conn:
        return allocate_vm(conn, VmSpec(**fields), settings=FIRSTFIT).id  # type: ignore[arg-type]


def vm(conn: Connection, vm_id: int) -> tuple[str, int | None, int | None]:
    row = conn.execute(
        select(vm_instance.c.state, vm_instance.c.host_id, vm_instance.c.last_host_id).where(vm_instance.c.id == vm_id)
    ).one()
    return row.state, row.host_id, row.last_host_id


def held(conn: Connection, host_id: int) -> int:
    return int(conn.execute(select(host.c.cpu_allocated).where(host.c.id == host_id)).scalar_one())


def test_start_stop_releases_on_stop_and_start_prefers_the_last_host(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, (h1, h2), _, net = setup
    vm_id = deploy(cloud, net, host_id=h2)
    with cloud.engine.begin() as conn:
        assert transition(conn, vm_id, VMEvent.OPERATION_SUCCEEDED) == VMState.RUNNING
        assert transition(conn, vm_id, VMEvent.STOP_REQUESTED) == VMState.STOPPING
        assert held(conn, h2) == 2000  # still held while stopping
        assert transition(conn, vm_id, VMEvent.OPERATION_SUCCEEDED) == VMState.STOPPED
        assert vm(conn, vm_id) == ("Stopped", None, h2)
        assert held(conn, h2) == 0
        placement = start_vm(conn, vm_id, settings=FIRSTFIT)
        assert placement.host_id == h2  # firstfit alone would pick h1
        assert vm(conn, vm_id) == ("Starting", h2, h2)
        assert held(conn, h2) == 2000 and held(conn, h1) == 0
        assert capacity.drift(conn) == []


def test_illegal_transitions_are_431_in_cloudstacks_words(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, _, _, net = setup
    vm_id = deploy(cloud, net)
    with cloud.engine.begin() as conn:
        transition(conn, vm_id, VMEvent.OPERATION_SUCCEEDED)
        with pytest.raises(ParamError) as info:
            start_vm(conn, vm_id, settings=FIRSTFIT)
        assert info.value.errortext == "Unable to transition VM vm to a new state from Running via StartRequested"
        with pytest.raises(ParamError, match="from Running via DestroyRequested"):
            destroy_vm(conn, vm_id)


def test_a_concurrent_change_wins_and_the_stale_one_fails(
    setup: tuple[Cloud, list[int], int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, _, _, net = setup
    vm_id = deploy(cloud, net)
    with cloud.engine.begin() as conn:
        stale = vm_row(conn, vm_id)
        transition(conn, vm_id, VMEvent.OPERATION_FAILED)  # Starting -> Stopped by someone else
        monkeypatch.setattr(transitions, "vm_row", lambda conn, vm_id: stale)
        with pytest.raises(InternalError, match="changed by another operation while in state Starting"):
            transition(conn, vm_id, VMEvent.OPERATION_SUCCEEDED)


def test_destroy_recover_expunge_release_pool_ip_and_mac(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, _, pool, net = setup
    vm_id = deploy(cloud, net, start=False)
    with cloud.engine.begin() as conn:
        start_vm(conn, vm_id, settings=FIRSTFIT)  # places the root volume now
        assert (
            conn.execute(select(storage_pool.c.allocated_bytes).where(storage_pool.c.id == pool)).scalar_one()
            == 10 * GIB
        )
        transition(conn, vm_id, VMEvent.OPERATION_FAILED)
        assert destroy_vm(conn, vm_id) == VMState.DESTROYED
        assert recover_vm(conn, vm_id) == VMState.STOPPED
        assert conn.execute(select(volume.c.state).where(volume.c.vm_id == vm_id)).scalar_one() == "Allocated"
        destroy_vm(conn, vm_id)
        assert begin_expunge(conn, vm_id) == VMState.EXPUNGING
        finish_expunge(conn, vm_id)
        assert conn.execute(select(storage_pool.c.allocated_bytes).where(storage_pool.c.id == pool)).scalar_one() == 0
        assert conn.execute(select(ip_address.c.id).where(ip_address.c.vm_id == vm_id)).first() is None
        assert conn.execute(select(nic.c.removed).where(nic.c.vm_id == vm_id)).scalar_one() is not None
        assert conn.execute(select(vm_instance.c.removed).where(vm_instance.c.id == vm_id)).scalar_one() is not None
        assert capacity.drift(conn) == []


def test_power_reports_follow_the_hypervisor(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, (_, h2), _, net = setup
    vm_id = deploy(cloud, net, start=False)
    with cloud.engine.begin() as conn:
        assert report_power(conn, vm_id, PowerState.POWER_ON, h2) == VMState.RUNNING
        assert vm(conn, vm_id)[:2] == ("Running", h2)
        assert held(conn, h2) == 2000
        assert report_power(conn, vm_id, PowerState.POWER_OFF) == VMState.STOPPED
        assert held(conn, h2) == 0
        assert capacity.drift(conn) == []


def _crash_in(conn: Connection, cloud: Cloud, vm_id: int, state: str, power: str = "PowerUnknown") -> str:
    """Leave the VM in ``state`` with an in-progress job owned by a dead server (msid 77)."""
    uuid = conn.execute(select(vm_instance.c.uuid).where(vm_instance.c.id == vm_id)).scalar_one()
    conn.execute(update(vm_instance).where(vm_instance.c.id == vm_id).values(state=state, power_state=power))
    conn.execute(
        insert(async_job).values(
            user_id=cloud.user_id,
            account_id=cloud.accounts["alice"],
            domain_id=cloud.domain_id,
            cmd="x",
            params={},
            instance_type="VirtualMachine",
            instance_id=uuid,
            owner_msid=77,
        )
    )
    return str(uuid)


@pytest.mark.parametrize(
    ("stuck", "power", "after", "holds"),
    [
        ("Starting", "PowerUnknown", "Stopped", False),
        ("Stopping", "PowerOn", "Running", True),
        ("Stopping", "PowerOff", "Stopped", False),
        ("Migrating", "PowerOn", "Running", True),
    ],
)
def test_reconciler_after_a_crash(
    setup: tuple[Cloud, list[int], int, int], stuck: str, power: str, after: str, holds: bool
) -> None:
    cloud, (h1, _), _, net = setup
    vm_id = deploy(cloud, net)  # Starting on h1, capacity held
    with cloud.engine.begin() as conn:
        conn.execute(update(volume).where(volume.c.vm_id == vm_id).values(state="Creating"))
        _crash_in(conn, cloud, vm_id, stuck, power)
        assert len(fail_orphans(conn, own_msid=77, include_own=True, dead_msids=[])) == 1
        state, host_id, _ = vm(conn, vm_id)
        assert state == after
        assert (host_id == h1) is holds
        assert held(conn, h1) == (2000 if holds else 0)
        assert conn.execute(select(volume.c.state).where(volume.c.vm_id == vm_id)).scalar_one() == "Allocated"
        assert capacity.drift(conn) == []


def test_reconciler_returns_expunging_to_destroyed(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, _, _, net = setup
    vm_id = deploy(cloud, net)
    with cloud.engine.begin() as conn:
        transition(conn, vm_id, VMEvent.OPERATION_FAILED)
        destroy_vm(conn, vm_id)
        begin_expunge(conn, vm_id)
        _crash_in(conn, cloud, vm_id, "Expunging")
        fail_orphans(conn, own_msid=77, include_own=True, dead_msids=[])
        assert vm(conn, vm_id)[0] == "Destroyed"
        assert capacity.drift(conn) == []


def test_start_places_unplaced_data_disks_by_their_own_tags(setup: tuple[Cloud, list[int], int, int]) -> None:
    cloud, _, pool, net = setup
    c1 = cloud.cluster("c-ssd")
    ssd_host = cloud.host(c1, "ssd-host")
    ssd = cloud.pool("ssd", cluster_id=c1, tags=("ssd",))
    vm_id = deploy(cloud, net, start=False, data_disk_offering_id=cloud.disk_offering(tags="ssd"))
    with cloud.engine.begin() as conn:
        placement = start_vm(conn, vm_id, settings=FIRSTFIT)
        assert placement.host_id == ssd_host
        pools = conn.execute(select(volume.c.volume_type, volume.c.pool_id).where(volume.c.vm_id == vm_id)).all()
        assert sorted(tuple(p) for p in pools) == [("DATADISK", ssd), ("ROOT", ssd)]
        assert pool != ssd
        assert capacity.drift(conn) == []
