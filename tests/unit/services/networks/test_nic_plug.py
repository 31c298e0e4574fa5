"""addNic/removeNic tell the hypervisor: a running VM's NIC is hot-plugged and unplugged on its simulated host, a
refused plug leaves no NIC behind, a refused unplug leaves the NIC, and a stopped VM's definition follows."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import pytest
from sqlalchemy import select

from provisioner.compute.drivers.simulator import CLOUD
from provisioner.compute.types import VMSpec
from provisioner.db.schema import host, ip_address, nic, vm_instance
from provisioner.exceptions import InternalError
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle.specs import _nics
from provisioner.services.networks import nic_plug
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.networks.test_nics import _network
from tests.unit.services.networks.world import World, make_world


@pytest.fixture
def world(cloud: Cloud) -> World:
    made = make_world(cloud)
    # A simulated host of its own (the process-wide simulator outlives tests): the VMs go there.
    with cloud.engine.begin() as conn:
        conn.execute(host.update().values(hypervisor_type="Simulator", url=f"http://sim/{uuidlib.uuid4().hex[:8]}/h1"))
    return made


def _running(world: World, network_id: int) -> tuple[dict[str, Any], str, str]:
    """A VM Running on the world's host with its NIC plugged; its host row, uuid and instance name."""
    vm = world.vm("alice", (network_id,), start=True)
    with world.cloud.engine.begin() as conn:
        conn.execute(vm_instance.update().where(vm_instance.c.uuid == vm).values(state="Running"))
        row = conn.execute(select(vm_instance).where(vm_instance.c.uuid == vm)).one()
        host_row = dict(conn.execute(select(host).where(host.c.id == row.host_id)).mappings().one())
        specs = _nics(conn, row.id)
    with open_host_driver(host_row) as driver:
        driver.define_vm(VMSpec(name=row.instance_name, uuid=vm, vcpus=1, memory_bytes=512 << 20, nics=specs))
        driver.start_vm(row.instance_name)
    return host_row, vm, str(row.instance_name)


def _plugged(host_row: dict[str, Any], name: str) -> list[str]:
    with open_host_driver(host_row) as driver:
        return [n.mac for n in driver.ex_nics(name)]  # type: ignore[attr-defined]


def _live_nics(world: World) -> int:
    with world.cloud.engine.connect() as conn:
        return len(conn.execute(select(nic.c.id).where(nic.c.removed.is_(None))).all())


def test_a_running_vm_gets_its_nic_hot_plugged_and_unplugged(world: World) -> None:
    first, _ = _network(world, "n1", "10.1.1.0/24")
    _, second = _network(world, "n2", "10.2.2.0/24", vlan="vlan://42")
    host_row, vm, name = _running(world, first)
    alice = world.callers["alice"]
    answer = nic_plug.add_nic(world.cloud.engine, alice, virtualmachineid=vm, networkid=second)
    added = next(n for n in answer["nic"] if n["networkid"] == second)
    assert _plugged(host_row, name) == [n["macaddress"] for n in answer["nic"]]
    with open_host_driver(host_row) as driver:
        assert driver.ex_nics(name)[1].vlan == 42  # type: ignore[attr-defined]

    answer = nic_plug.remove_nic(world.cloud.engine, alice, virtualmachineid=vm, nicid=added["id"])
    assert added["macaddress"] not in _plugged(host_row, name)
    assert _plugged(host_row, name) == [n["macaddress"] for n in answer["nic"]]


def test_a_refused_plug_leaves_no_nic_and_a_refused_unplug_leaves_the_nic(world: World) -> None:
    first, _ = _network(world, "n1", "10.1.1.0/24")
    second_id, second = _network(world, "n2", "10.2.2.0/24")
    host_row, vm, name = _running(world, first)
    alice = world.callers["alice"]
    before = _live_nics(world)
    CLOUD.get_host(host_row["url"]).fail_next("PlugNicCommand", message="mocked PlugNicCommand failure")
    with pytest.raises(InternalError, match=r"Unable to plug NIC .* on network n2 into running VM .*: mocked Plug"):
        nic_plug.add_nic(world.cloud.engine, alice, virtualmachineid=vm, networkid=second)
    assert _live_nics(world) == before
    with world.cloud.engine.connect() as conn:  # the address went back to the range
        held = conn.execute(select(ip_address.c.address).where(ip_address.c.network_id == second_id)).scalars().all()
    assert held == ["10.2.2.1"]

    answer = nic_plug.add_nic(world.cloud.engine, alice, virtualmachineid=vm, networkid=second)
    added = next(n for n in answer["nic"] if n["networkid"] == second)
    CLOUD.get_host(host_row["url"]).fail_next("UnPlugNicCommand", message="mocked UnPlugNicCommand failure")
    with pytest.raises(InternalError, match="the NIC was not removed"):
        nic_plug.remove_nic(world.cloud.engine, alice, virtualmachineid=vm, nicid=added["id"])
    assert added["macaddress"] in _plugged(host_row, name)
    assert _live_nics(world) == before + 1


def test_a_stopped_vm_has_its_definition_edited_and_a_missing_nic_is_plugged_at_start(world: World) -> None:
    first, _ = _network(world, "n1", "10.1.1.0/24")
    _, second = _network(world, "n2", "10.2.2.0/24")
    host_row, vm, name = _running(world, first)
    with world.cloud.engine.begin() as conn:  # as a stop records it: the host is the last one
        conn.execute(
            vm_instance.update()
            .where(vm_instance.c.uuid == vm)
            .values(state="Stopped", host_id=None, last_host_id=host_row["id"])
        )
    with open_host_driver(host_row) as driver:
        driver.stop_vm(name)
    alice = world.callers["alice"]
    CLOUD.get_host(host_row["url"]).set_down()
    answer = nic_plug.add_nic(world.cloud.engine, alice, virtualmachineid=vm, networkid=second)  # host down: logged
    CLOUD.get_host(host_row["url"]).set_down(False)
    assert len(_plugged(host_row, name)) == 1
    with world.cloud.engine.connect() as conn:
        vm_id = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == vm)).scalar_one()
        spec = VMSpec(name=name, uuid=vm, vcpus=1, memory_bytes=512 << 20, nics=_nics(conn, vm_id))
    with open_host_driver(host_row) as driver:
        nic_plug.plug_missing_nics(driver, spec)
    assert _plugged(host_row, name) == [n["macaddress"] for n in answer["nic"]]

    added = next(n for n in answer["nic"] if n["networkid"] == second)
    answer = nic_plug.remove_nic(world.cloud.engine, alice, virtualmachineid=vm, nicid=added["id"])
    assert _plugged(host_row, name) == [n["macaddress"] for n in answer["nic"]]
