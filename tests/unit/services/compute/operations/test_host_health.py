"""Host health rounds on the simulator: Up/Disconnected/Down/Alert/Connecting, ownership, and VM power sync."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.compute.types import VMState
from provisioner.db.schema import host, mshost, utcnow, vm_instance
from provisioner.exceptions import InsufficientCapacityError
from provisioner.server.background import BACKGROUND_TASKS, load_tasks
from provisioner.services.compute import capacity
from provisioner.services.compute.host_drivers import use_host_driver_opener
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from provisioner.services.infrastructure.host_health import HOST_HEALTH, run_round
from provisioner.services.jobs.recovery import register_node
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud
from tests.unit.services.compute.operations.helpers import host_url, running_vm, sim_host, vm_state


def status(engine: Engine, host_id: int) -> tuple[str, Any, int | None]:
    with engine.begin() as conn:
        row = conn.execute(select(host.c.status, host.c.last_ping, host.c.mshost_id).where(host.c.id == host_id)).one()
    return row.status, row.last_ping, row.mshost_id


@pytest.fixture
def two_hosts(cloud: Cloud) -> tuple[Cloud, int, int, int]:
    c1 = cloud.cluster("c1", hypervisor="Simulator")
    cloud.pool("p1", cluster_id=c1)
    h1, h2 = sim_host(cloud, c1, "h1"), sim_host(cloud, c1, "h2")
    cloud.setting("ping.interval", "10")
    cloud.setting("ping.timeout", "2")  # Down after 20 s of silence
    return cloud, h1, h2, cloud.network()


def test_the_task_is_registered_and_reads_ping_interval() -> None:
    assert "provisioner.services.infrastructure.host_health:HOST_HEALTH" in BACKGROUND_TASKS
    assert HOST_HEALTH in load_tasks()
    assert HOST_HEALTH.interval_setting == "ping.interval"


def test_an_answering_host_is_up_pinged_and_owned(two_hosts: tuple[Cloud, int, int, int]) -> None:
    cloud, h1, h2, _ = two_hosts
    before = utcnow()
    result = run_round(cloud.engine, 7)
    assert result.checked == 2
    for host_id in (h1, h2):
        state, last_ping, owner = status(cloud.engine, host_id)
        assert (state, owner) == ("Up", 7)
        assert last_ping >= before


def test_a_silent_host_is_disconnected_then_down_gets_no_vms_and_comes_back(
    two_hosts: tuple[Cloud, int, int, int],
) -> None:
    cloud, h1, h2, net = two_hosts
    run_round(cloud.engine, 7)
    vm = running_vm(cloud, net, "vm1")  # firstfit: on h1
    assert vm_state(cloud, vm) == ("Running", "PowerOn", h1)
    CLOUD.get_host(host_url(cloud, h1)).set_down()

    run_round(cloud.engine, 7)
    assert status(cloud.engine, h1)[0] == "Disconnected"
    assert status(cloud.engine, h2)[0] == "Up"
    spec = VmSpec(
        name="vm2",
        zone_id=cloud.zone_id,
        service_offering_id=cloud.offering("o2"),
        account_id=cloud.accounts["alice"],
        domain_id=cloud.domain_id,
        nics=(NicRequest(net),),
        host_id=h1,
    )
    with pytest.raises(InsufficientCapacityError, match="host h1 requested"), cloud.engine.begin() as conn:
        allocate_vm(conn, spec, settings=FIRSTFIT)
    with cloud.engine.begin() as conn:  # without the hint the deployment goes around it
        assert (
            allocate_vm(conn, VmSpec(**{**_fields(spec), "host_id": None}), settings=FIRSTFIT).placement.host_id == h2
        )  # type: ignore[union-attr]

    with cloud.engine.begin() as conn:  # 21 s pass
        conn.execute(update(host).where(host.c.id == h1).values(last_ping=utcnow() - timedelta(seconds=21)))
    result = run_round(cloud.engine, 7)
    assert status(cloud.engine, h1)[0] == "Down"
    assert vm_state(cloud, vm) == ("Stopped", "PowerOff", None)  # capacity released: it may start elsewhere
    assert [c.reason for c in result.vm_changes] == ["host is Down"]
    run_round(cloud.engine, 7)
    assert status(cloud.engine, h1)[0] == "Down"  # silent still: it stays Down (not back to Disconnected)
    with cloud.engine.begin() as conn:
        assert capacity.drift(conn) == []

    CLOUD.get_host(host_url(cloud, h1)).set_down(False)
    run_round(cloud.engine, 7)
    assert status(cloud.engine, h1)[0] == "Up"


def _fields(spec: VmSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def test_a_host_answering_with_errors_is_alert_and_reconnects_through_connecting(
    two_hosts: tuple[Cloud, int, int, int],
) -> None:
    cloud, h1, _, _ = two_hosts
    CLOUD.get_host(host_url(cloud, h1)).fail_next("list_vms")
    run_round(cloud.engine, 7)
    assert status(cloud.engine, h1)[0] == "Alert"

    seen: list[str] = []

    def opener(row: Mapping[str, Any]) -> HypervisorDriver:
        seen.append(status(cloud.engine, int(row["id"]))[0])  # what others see while it is asked
        return SimulatorDriver(str(row["url"]))

    with use_host_driver_opener(opener):
        run_round(cloud.engine, 7)
    assert "Connecting" in seen
    assert status(cloud.engine, h1)[0] == "Up"


def test_vms_stopped_or_vanished_behind_our_back_are_stopped_and_started_ones_running(
    two_hosts: tuple[Cloud, int, int, int],
) -> None:
    cloud, h1, _, net = two_hosts
    stopped, vanished, kept = (running_vm(cloud, net, name) for name in ("a", "b", "c"))
    with SimulatorDriver(host_url(cloud, h1)) as driver:
        names = {vm.uuid: vm.name for vm in driver.list_vms()}
        by_id = dict(
            zip((stopped, vanished, kept), sorted(names.values(), key=lambda n: int(n.split("-")[2])), strict=True)
        )
        driver.ex_set_state(by_id[stopped], VMState.STOPPED)
        driver.destroy_vm(by_id[vanished])
    result = run_round(cloud.engine, 7)
    assert vm_state(cloud, stopped) == ("Stopped", "PowerOff", None)
    assert vm_state(cloud, vanished) == ("Stopped", "PowerOff", None)
    assert vm_state(cloud, kept) == ("Running", "PowerOn", h1)
    assert sorted(c.reason for c in result.vm_changes) == [
        "reported Stopped by the hypervisor",
        "vanished from the hypervisor",
    ]
    with cloud.engine.begin() as conn:
        assert capacity.drift(conn) == []

    with SimulatorDriver(host_url(cloud, h1)) as driver:  # started again behind our back
        driver.start_vm(by_id[stopped])
    run_round(cloud.engine, 7)
    assert vm_state(cloud, stopped) == ("Running", "PowerOn", h1)
    with cloud.engine.begin() as conn:
        assert capacity.drift(conn) == []


def test_a_vm_changed_by_a_job_during_the_round_is_left_alone(two_hosts: tuple[Cloud, int, int, int]) -> None:
    cloud, h1, _, net = two_hosts
    vm = running_vm(cloud, net, "a")
    with SimulatorDriver(host_url(cloud, h1)) as driver:
        driver.ex_set_state(driver.list_vms()[0].name, VMState.STOPPED)

    def opener(row: Mapping[str, Any]) -> HypervisorDriver:
        with cloud.engine.begin() as conn:  # a job moves the VM while the host is being asked
            conn.execute(
                update(vm_instance).where(vm_instance.c.id == vm).values(update_count=vm_instance.c.update_count + 1)
            )
        return SimulatorDriver(str(row["url"]))

    with use_host_driver_opener(opener):
        run_round(cloud.engine, 7)
    assert vm_state(cloud, vm)[0] == "Running"


def _node(engine: Engine, msid: int, age_seconds: float) -> None:
    with engine.begin() as conn:
        register_node(conn, msid, name=f"ms{msid}", version="t", service_ip="127.0.0.1", service_port=0)
        conn.execute(
            update(mshost).where(mshost.c.msid == msid).values(last_heartbeat=utcnow() - timedelta(seconds=age_seconds))
        )


def test_only_the_owner_checks_and_a_dead_owners_hosts_are_taken_over(two_hosts: tuple[Cloud, int, int, int]) -> None:
    cloud, h1, h2, _ = two_hosts
    _node(cloud.engine, 1, 0)
    _node(cloud.engine, 2, 0)
    assert run_round(cloud.engine, 1).checked == 2
    assert run_round(cloud.engine, 2).checked == 0  # owned by a live node
    _node(cloud.engine, 1, 3600)  # node 1 stopped heartbeating
    assert run_round(cloud.engine, 2).checked == 2
    assert status(cloud.engine, h1)[2] == status(cloud.engine, h2)[2] == 2


def test_servers_racing_for_unowned_hosts_check_each_host_once(cloud: Cloud) -> None:
    c1 = cloud.cluster("c1", hypervisor="Simulator")
    hosts = [sim_host(cloud, c1, f"h{i}") for i in range(20)]
    for msid in (1, 2, 3):
        _node(cloud.engine, msid, 0)
    asked: Counter[int] = Counter()
    lock = threading.Lock()

    def opener(row: Mapping[str, Any]) -> HypervisorDriver:
        with lock:
            asked[int(row["id"])] += 1
        return SimulatorDriver(str(row["url"]))

    barrier = threading.Barrier(3)
    checked: list[int] = []

    def server(msid: int) -> None:
        barrier.wait(10)
        checked.append(run_round(cloud.engine, msid).checked)

    with use_host_driver_opener(opener):
        threads = [threading.Thread(target=server, args=(m,)) for m in (1, 2, 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sum(checked) == len(hosts)
    assert set(asked) == set(hosts) and set(asked.values()) == {1}
    with cloud.engine.begin() as conn:
        owners = conn.execute(select(host.c.mshost_id).where(host.c.id.in_(hosts))).scalars().all()
    assert set(owners) <= {1, 2, 3} and None not in owners
