"""Callers and VMs over the compute test cloud: an admin, users alice and bob, a simulator host to place VMs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import account, domain, new_uuid, vm_instance, zone
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud

T = TypeVar("T")


@dataclass
class World:
    """The cloud, a caller per account, and the offering VMs use."""

    cloud: Cloud
    callers: dict[str, Caller]
    offering_id: int
    zone_uuid: str

    def run(self, function: Callable[..., T], who: str, *args: Any, **kwargs: Any) -> T:
        """``function(conn, caller, ...)`` in one transaction, as the API layer calls services."""
        caller = self.callers[who]
        return run_in_transaction(self.cloud.engine, lambda conn: function(conn, caller, *args, **kwargs))

    def vm(self, owner: str, network_ids: tuple[int, ...], *, start: bool = False, name: str = "vm") -> str:
        """A VM of ``owner`` with a NIC on each network (Stopped, or Starting on the host with ``start``)."""

        def work(conn: Connection) -> str:
            spec = VmSpec(
                name=name,
                zone_id=self.cloud.zone_id,
                service_offering_id=self.offering_id,
                account_id=self.cloud.accounts[owner],
                domain_id=self.cloud.domain_id,
                nics=tuple(NicRequest(n) for n in network_ids),
                start=start,
            )
            return allocate_vm(conn, spec, settings=FIRSTFIT).uuid

        return run_in_transaction(self.cloud.engine, work)

    def set_vm_state(self, uuid: str, state: str) -> None:
        """Force a VM's state (the lifecycle is not under test here)."""
        with self.cloud.engine.begin() as conn:
            conn.execute(vm_instance.update().where(vm_instance.c.uuid == uuid).values(state=state))


def make_world(cloud: Cloud) -> World:
    """A host and pool to place VMs on, an offering, and callers: root admin ``admin`` and users alice and bob."""
    cluster_id = cloud.cluster("c1")
    host_id = cloud.host(cluster_id, "h1", cores=64, memory_gib=256)
    cloud.pool("ps1", cluster_id=cluster_id)
    offering_id = cloud.offering()
    with cloud.engine.begin() as conn:
        domain_uuid = conn.execute(select(domain.c.uuid).where(domain.c.id == cloud.domain_id)).scalar_one()
        zone_uuid = conn.execute(select(zone.c.uuid).where(zone.c.id == cloud.zone_id)).scalar_one()
        callers = {}
        for name, pk in cloud.accounts.items():
            uuid = conn.execute(select(account.c.uuid).where(account.c.id == pk)).scalar_one()
            callers[name] = Caller("u-" + name, name, uuid, name, domain_uuid, "/", "r", RoleType.USER)
        role_id = conn.execute(select(account.c.role_id).where(account.c.id == cloud.accounts["alice"])).scalar_one()
        admin_uuid = new_uuid()
        conn.execute(
            insert(account).values(uuid=admin_uuid, name="admin", type=1, role_id=role_id, domain_id=cloud.domain_id)
        )
    callers["admin"] = Caller("u-admin", "admin", admin_uuid, "admin", domain_uuid, "/", "r", RoleType.ADMIN)
    assert host_id
    return World(cloud, callers, offering_id, zone_uuid)
