"""A failed start is cleaned up and retried on another host (533 when none is left); podid, clusterid and
deploymentplanner place a deployment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.db.schema import cluster, configuration, host, pod, vm_instance
from provisioner.exceptions import InsufficientCapacityError, ParamError, PermissionDeniedError
from provisioner.services.compute.capacity import drift
from provisioner.services.compute.lifecycle import service
from tests.unit.services.compute.lifecycle.conftest import SimCloud


def _created(sim: SimCloud, name: str) -> tuple[str, str]:
    """A created (Stopped) VM's uuid and instance name."""
    uuid = service.create(sim.engine, sim.alice, sim.params(name=name))
    with sim.engine.begin() as conn:
        instance = conn.execute(select(vm_instance.c.instance_name).where(vm_instance.c.uuid == uuid)).scalar_one()
    return uuid, str(instance)


def _hosts(sim: SimCloud) -> dict[int, str]:
    with sim.engine.begin() as conn:
        return {r.id: r.url for r in conn.execute(select(host.c.id, host.c.url).where(host.c.id.in_(sim.host_ids)))}


def test_a_start_failing_on_one_host_runs_on_the_other_and_leaves_nothing_behind(sim: SimCloud) -> None:
    with sim.engine.begin() as conn:  # firstfit: hosts in id order, so the failing host is tried first
        conn.execute(delete(configuration).where(configuration.c.name == "vm.allocation.algorithm"))
        conn.execute(
            insert(configuration).values(name="vm.allocation.algorithm", value="firstfit", scope="global", scope_id=0)
        )
    uuid, instance = _created(sim, "flaky")
    hosts = _hosts(sim)
    bad, good = sorted(sim.host_ids)
    CLOUD.add_host(hosts[bad]).fail_start(instance)
    vm = service.deploy_vm(sim.engine, sim.alice, uuid)
    assert vm["state"] == "Running"
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.host_id).where(vm_instance.c.uuid == uuid)).scalar_one() == good
        assert drift(conn) == [], "capacity of the failed attempt was not given back"
    assert instance not in CLOUD.get_host(hosts[bad]).vms, "the failed start left the VM defined on its host"
    assert instance in CLOUD.get_host(hosts[good]).vms


def test_a_start_failing_on_every_host_is_a_533_and_the_deployment_holds_nothing(sim: SimCloud) -> None:
    uuid, instance = _created(sim, "doomed")
    hosts = _hosts(sim)
    for url in hosts.values():
        CLOUD.add_host(url).fail_start(instance)
    with pytest.raises(InsufficientCapacityError, match=r"Unable to create a deployment for VM\[User\|i-") as error:
        service.deploy_vm(sim.engine, sim.alice, uuid)
    assert error.value.errorcode == 533
    for url in hosts.values():
        assert instance not in CLOUD.get_host(url).vms
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.removed).where(vm_instance.c.uuid == uuid)).scalar_one() is not None
        assert drift(conn) == []


def test_a_start_on_a_chosen_host_is_not_moved_elsewhere(sim: SimCloud) -> None:
    uuid, instance = _created(sim, "pinned")
    service.deploy_vm(sim.engine, sim.alice, uuid, start=False)
    hosts = _hosts(sim)
    bad = sim.host_ids[0]
    CLOUD.add_host(hosts[bad]).fail_start(instance)
    with sim.engine.begin() as conn:
        bad_uuid = conn.execute(select(host.c.uuid).where(host.c.id == bad)).scalar_one()
    with pytest.raises(Exception, match="Unable to start VM pinned"):
        service.start_vm(sim.engine, sim.admin, uuid, bad_uuid)
    with sim.engine.begin() as conn:
        assert conn.execute(select(vm_instance.c.state).where(vm_instance.c.uuid == uuid)).scalar_one() == "Stopped"
        assert drift(conn) == []
    assert instance not in CLOUD.get_host(hosts[bad]).vms


def test_a_failed_restart_keeps_the_domain_an_earlier_start_defined(sim: SimCloud) -> None:
    # Destroying it would delete the disks it owns on the host: the root overlay with the guest's data.
    uuid, instance = _created(sim, "restarted")
    service.deploy_vm(sim.engine, sim.alice, uuid)
    with sim.engine.begin() as conn:
        host_id = conn.execute(select(vm_instance.c.host_id).where(vm_instance.c.uuid == uuid)).scalar_one()
    service.stop_vm(sim.engine, sim.alice, uuid)
    url = _hosts(sim)[host_id]
    CLOUD.add_host(url).fail_start(instance)
    with pytest.raises(Exception, match="Unable to start VM restarted"):
        service.start_vm(sim.engine, sim.admin, uuid, _uuid_of(sim, host, host_id))
    assert instance in CLOUD.get_host(url).vms, "the failed restart removed the domain (and its disks)"
    CLOUD.add_host(url).fail_start(instance, False)
    assert service.start_vm(sim.engine, sim.alice, uuid)["state"] == "Running"


def _uuid_of(sim: SimCloud, table: Any, row_id: int) -> str:
    with sim.engine.begin() as conn:
        return str(conn.execute(select(table.c.uuid).where(table.c.id == row_id)).scalar_one())


def test_podid_clusterid_and_deploymentplanner_place_the_vm(sim: SimCloud) -> None:
    with sim.engine.begin() as conn:
        pod_id = conn.execute(select(cluster.c.pod_id).where(cluster.c.id == sim.cluster_id)).scalar_one()
    where = {
        "podid": _uuid_of(sim, pod, pod_id),
        "clusterid": _uuid_of(sim, cluster, sim.cluster_id),
        "deploymentplanner": "firstfit",  # hosts in id order, whatever vm.allocation.algorithm says
    }
    placed = []
    for i in range(4):
        uuid = service.create(sim.engine, sim.admin, sim.params(name=f"hinted-{i}", **where))
        vm = service.deploy_vm(sim.engine, sim.admin, uuid, where=where)
        assert vm["state"] == "Running" and vm["clusterid"] == where["clusterid"] and vm["podid"] == where["podid"]
        placed.append(vm["hostid"])
    assert set(placed) == {_uuid_of(sim, host, min(sim.host_ids))}, "deploymentplanner=firstfit was not followed"


def test_placement_parameters_are_for_root_admins_and_checked(sim: SimCloud) -> None:
    cluster_uuid = _uuid_of(sim, cluster, sim.cluster_id)
    with pytest.raises(PermissionDeniedError, match="Only root administrators may choose where"):
        service.create(sim.engine, sim.alice, sim.params(name="sneaky", clusterid=cluster_uuid))
    with pytest.raises(ParamError, match="Can't find a planner by name NoSuchPlanner"):
        service.create(sim.engine, sim.admin, sim.params(name="odd", deploymentplanner="NoSuchPlanner"))
    with pytest.raises(ParamError, match="Unable to find cluster by id"):
        service.create(sim.engine, sim.admin, sim.params(name="lost", clusterid="00000000-0000-4000-8000-000000000000"))
