"""Simulated hosts and running VMs for the VM operations tests: rows in the database and VMs in the simulator."""

from __future__ import annotations

from sqlalchemy import select, update

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.compute.types import VMSpec
from provisioner.db.schema import host, vm_instance
from provisioner.services.compute.states import VMEvent
from provisioner.services.compute.transitions import transition
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud


def sim_host(cloud: Cloud, cluster_id: int, name: str, **values: object) -> int:
    """A simulator host row reachable at ``http://sim/<cluster>/<name>``, with its simulated host."""
    host_id = cloud.host(cluster_id, name, hypervisor="Simulator", **values)  # type: ignore[arg-type]
    url = f"http://sim/c{cluster_id}/{name}"
    with cloud.engine.begin() as conn:
        conn.execute(update(host).where(host.c.id == host_id).values(url=url))
    CLOUD.add_host(url)
    return host_id


def host_url(cloud: Cloud, host_id: int) -> str:
    """The stored URL of a host."""
    with cloud.engine.begin() as conn:
        return str(conn.execute(select(host.c.url).where(host.c.id == host_id)).scalar_one())


def running_vm(
    cloud: Cloud, net: int, name: str, *, offering: int | None = None, room: bool = False, **values: object
) -> int:
    """A VM placed by the allocator, defined and started in the simulator, and Running in the database.

    ``room`` defines it with maxima (4 vCPUs, 4 GiB) so it can be scaled while running.
    """
    fields: dict[str, object] = {
        "name": name,
        "zone_id": cloud.zone_id,
        "service_offering_id": offering or cloud.offering(name, cpu=1, speed=1000, memory=1024),
        "account_id": cloud.accounts["alice"],
        "domain_id": cloud.domain_id,
        "nics": (NicRequest(net),),
        "hypervisor": "Simulator",
    }
    fields.update(values)
    with cloud.engine.begin() as conn:
        vm = allocate_vm(conn, VmSpec(**fields), settings=FIRSTFIT)  # type: ignore[arg-type]
        assert vm.placement is not None
        transition(conn, vm.id, VMEvent.OPERATION_SUCCEEDED, power_state="PowerOn")
    sim = CLOUD.get_host(host_url(cloud, vm.placement.host_id))
    with SimulatorDriver(sim.url) as driver:
        maxima = {"max_vcpus": 4, "max_memory_bytes": 4 << 30} if room else {}
        driver.define_vm(VMSpec(vm.instance_name, vm.uuid, 1, 1 << 30, **maxima))  # type: ignore[arg-type]
        driver.start_vm(vm.instance_name)
    return vm.id


def vm_state(cloud: Cloud, vm_id: int) -> tuple[str, str, int | None]:
    """(state, power state, host id) of a VM."""
    with cloud.engine.begin() as conn:
        row = conn.execute(
            select(vm_instance.c.state, vm_instance.c.power_state, vm_instance.c.host_id).where(
                vm_instance.c.id == vm_id
            )
        ).one()
    return row.state, row.power_state, row.host_id
