"""The VM lifecycle services on the simulator: deploy, list, stop, start, reboot, destroy, recover, expunge."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import insert, select

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.types import VMState
from provisioner.db.schema import (
    host,
    ip_address,
    nic,
    resource_limit,
    service_offering,
    template_pool_ref,
    vm_instance,
    volume,
)
from provisioner.exceptions import (
    InsufficientCapacityError,
    ParamError,
    PermissionDeniedError,
    ResourceAllocationError,
)
from provisioner.services.compute.capacity import drift
from provisioner.services.compute.lifecycle import service, views
from provisioner.services.identity.resource_limits import RESOURCE_TYPES
from tests.unit.services.compute.lifecycle.conftest import SimCloud


def _deploy(sim: SimCloud, **extra: object) -> dict[str, object]:
    caller = sim.alice
    uuid = service.create(sim.engine, caller, sim.params(**extra))
    return service.deploy_vm(sim.engine, caller, uuid, start=extra.get("startvm", True) is not False)


def _sim_vm(name: str) -> VMState | None:
    """The VM's state on whichever simulated host holds it, None when none does."""
    where = CLOUD.find_vm(name)
    return None if where is None else where.vms[name].state


def test_deploy_runs_the_vm_on_a_simulated_host_and_lists_it(sim: SimCloud) -> None:
    userdata = base64.b64encode(b"#cloud-config\n").decode()
    vm = _deploy(sim, name="web1", displayname="Web one", userdata=userdata)
    assert vm["state"] == "Running"
    assert (vm["name"], vm["displayname"]) == ("web1", "Web one")
    assert "hostid" not in vm and "instancename" not in vm, "admin-only fields leak to a user"
    assert len(vm["nic"]) == 1 and vm["nic"][0]["ipaddress"] == "10.1.1.2" and vm["nic"][0]["isdefault"]
    with sim.engine.begin() as conn:
        row = conn.execute(select(vm_instance).where(vm_instance.c.uuid == vm["id"])).one()
        assert row.power_state == "PowerOn"
        assert conn.execute(select(volume.c.state).where(volume.c.vm_id == row.id)).scalars().all() == ["Ready"]
        assert drift(conn) == []
    assert _sim_vm(row.instance_name) is VMState.RUNNING
    with sim.engine.begin() as conn:
        rows, total = views.list_vms(conn, sim.alice)
        assert total == 1 and rows[0]["id"] == vm["id"]
        admin_rows, _ = views.list_vms(conn, sim.admin, listall=True)
        assert admin_rows[0]["hostid"] is not None and admin_rows[0]["instancename"] == row.instance_name
        assert views.list_vms(conn, sim.bob)[1] == 0
        assert views.list_vms(conn, sim.bob, listall=True)[1] == 0


def test_stop_start_reboot_destroy_recover_expunge(sim: SimCloud) -> None:
    vm = _deploy(sim, name="cycle")
    caller, uuid = sim.alice, str(vm["id"])
    stopped = service.stop_vm(sim.engine, caller, uuid)
    assert stopped["state"] == "Stopped"
    with sim.engine.begin() as conn:
        assert drift(conn) == []
        assert conn.execute(select(host.c.cpu_allocated)).scalars().all() == [0, 0]
    assert service.stop_vm(sim.engine, caller, uuid)["state"] == "Stopped", "stopping a stopped VM is a no-op"
    with pytest.raises(ParamError, match="not Running"):
        service.reboot_vm(sim.engine, caller, uuid)
    assert service.start_vm(sim.engine, caller, uuid)["state"] == "Running"
    with pytest.raises(ParamError, match="already running"):
        service.start_vm(sim.engine, caller, uuid)
    assert service.reboot_vm(sim.engine, caller, uuid)["state"] == "Running"
    with sim.engine.begin() as conn:
        assert conn.execute(select(template_pool_ref.c.ref_count)).scalars().all() == [1], "root disk holds its base"
    destroyed = service.destroy_vm(sim.engine, caller, uuid)
    assert destroyed["state"] == "Destroyed"
    with sim.engine.begin() as conn:
        assert service.recover_vm(conn, sim.admin, uuid)["state"] == "Stopped"
    service.destroy_vm(sim.engine, sim.admin, uuid, expunge_now=True)
    assert _sim_vm(f"i-{sim.cloud.accounts['alice']}-1-VM") is None, "expunge left the VM on the host"
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.removed).where(vm_instance.c.uuid == uuid)).scalar() is not None
        assert conn.execute(select(ip_address.c.id).where(ip_address.c.vm_id.is_not(None))).first() is None
        assert conn.execute(select(nic.c.id).where(nic.c.removed.is_(None))).first() is None
        assert conn.execute(select(template_pool_ref.c.ref_count)).scalars().all() in ([], [0])
        assert drift(conn) == []


def test_users_may_not_expunge_or_recover_by_default_nor_touch_others_vms(sim: SimCloud) -> None:
    vm = _deploy(sim, name="mine")
    uuid = str(vm["id"])
    with pytest.raises(PermissionDeniedError):
        service.stop_vm(sim.engine, sim.bob, uuid)
    with pytest.raises(PermissionDeniedError, match=r"allow\.user\.expunge\.recover\.vm"):
        service.destroy_vm(sim.engine, sim.alice, uuid, expunge_now=True)
    service.destroy_vm(sim.engine, sim.alice, uuid)
    with sim.engine.begin() as conn, pytest.raises(PermissionDeniedError):
        service.recover_vm(conn, sim.alice, uuid)


def test_no_capacity_ends_with_533_and_leaves_nothing_behind(sim: SimCloud) -> None:
    # Two hosts of 8 GiB: a 16 GiB VM fits nowhere.
    sim.cloud.setting("vm.allocation.algorithm", "firstfit")
    big = sim.cloud.offering("huge", cpu=1, speed=1000, memory=16 * 1024, root_gib=10)
    with sim.engine.begin() as conn:
        big_uuid = conn.execute(select(service_offering.c.uuid).where(service_offering.c.id == big)).scalar_one()
    uuid = service.create(sim.engine, sim.alice, sim.params(serviceofferingid=big_uuid, name="huge"))
    with pytest.raises(InsufficientCapacityError):
        service.deploy_vm(sim.engine, sim.alice, uuid)
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.state).where(vm_instance.c.uuid == uuid)).scalar() == "Expunging"
        assert conn.execute(select(vm_instance.c.removed).where(vm_instance.c.uuid == uuid)).scalar() is not None
        assert conn.execute(select(ip_address.c.id).where(ip_address.c.vm_id.is_not(None))).first() is None
        assert drift(conn) == []


def test_startvm_false_leaves_the_vm_stopped_and_unplaced(sim: SimCloud) -> None:
    vm = _deploy(sim, name="later", startvm=False)
    assert vm["state"] == "Stopped"
    with sim.engine.begin() as conn:
        assert conn.execute(select(host.c.cpu_allocated)).scalars().all() == [0, 0]


def test_bad_requests_are_431(sim: SimCloud) -> None:
    with pytest.raises(ParamError, match="Invalid name"):
        service.create(sim.engine, sim.alice, sim.params(name="9lives"))
    with pytest.raises(ParamError, match="base64"):
        service.create(sim.engine, sim.alice, sim.params(name="ok", userdata="%%%"))
    with pytest.raises(ParamError, match="SSH key pair"):
        service.create(sim.engine, sim.alice, sim.params(name="ok", keypair="nope"))
    _deploy(sim, name="dup")
    with pytest.raises(ParamError, match="already exists"):
        service.create(sim.engine, sim.alice, sim.params(name="dup"))


@pytest.mark.parametrize(("kind", "maximum"), [(0, 1), (8, 1), (9, 1536), (10, 15)])
def test_deploy_past_an_account_limit_is_a_535_and_allocates_nothing(sim: SimCloud, kind: int, maximum: int) -> None:
    # user_vm 1 VM, cpu 1 core, memory 1536 MiB, primary storage 15 GiB: the 1-vCPU, 1 GiB, 10 GiB VM fits once.
    with sim.engine.begin() as conn:
        conn.execute(insert(resource_limit).values(type=kind, account_id=sim.cloud.accounts["alice"], max=maximum))
    assert _deploy(sim, name="first")["state"] == "Running"
    name = RESOURCE_TYPES[kind].name
    with pytest.raises(ResourceAllocationError, match=f"type '{name}' for account name=alice"):
        service.create(sim.engine, sim.alice, sim.params(name="second"))
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.name).where(vm_instance.c.removed.is_(None))).scalars().all() == [
            "first"
        ]
    # A root admin's own account is never limited (CloudStack skips root-admin owners).
    assert service.create(sim.engine, sim.admin, sim.params(name="admins"))
