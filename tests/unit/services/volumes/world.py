"""A simulated zone for the volume and snapshot service tests: one cluster, two hosts, two pools, callers.

The cluster is a ``Simulator`` one, so its pools are served by the in-process simulator storage driver
and its hosts by the simulator hypervisor: attaching to a running VM really reaches a (simulated) driver.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from provisioner.compute.types import VMSpec
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import account, disk_offering, domain, host, resource_limit, storage_pool, volume, zone
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.states import VMEvent, VolumeState
from provisioner.services.compute.transitions import transition
from provisioner.services.compute.vms import VmSpec, allocate_vm
from provisioner.services.identity.resource_limits import RESOURCE_TYPES
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.compute.cloud import FIRSTFIT, GIB, Cloud


@dataclass
class World:
    """The cloud, its ids, and a caller per role."""

    cloud: Cloud
    cluster: int
    hosts: list[int]
    pools: list[int]
    offering: int
    disk_offering: int
    custom_offering: int
    zone_uuid: str
    alice: Caller
    bob: Caller
    admin: Caller

    @property
    def engine(self) -> Engine:
        """The database."""
        return self.cloud.engine

    def offering_uuid(self, offering_id: int) -> str:
        """The public id of a disk offering."""
        with self.engine.connect() as conn:
            return str(conn.execute(select(disk_offering.c.uuid).where(disk_offering.c.id == offering_id)).scalar_one())

    def allocated(self) -> int:
        """The allocated bytes of the zone's pools together (the default planner picks pools at random)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.sum(storage_pool.c.allocated_bytes))).scalar_one())

    def vm(self, name: str, *, running: bool, owner: str = "alice") -> dict[str, Any]:
        """A VM of ``owner``: Running (placed, root disk Ready, defined and started on its simulated host),
        or Stopped and never started (nothing placed)."""
        spec = VmSpec(
            name=name,
            zone_id=self.cloud.zone_id,
            service_offering_id=self.offering,
            account_id=self.cloud.accounts[owner],
            domain_id=self.cloud.domain_id,
            hypervisor="Simulator",
            start=running,
        )
        made = run_in_transaction(self.engine, lambda conn: allocate_vm(conn, spec, settings=FIRSTFIT))
        if running:
            with self.engine.begin() as conn:
                transition(conn, made.id, VMEvent.OPERATION_SUCCEEDED)
                conn.execute(
                    update(volume)
                    .where(volume.c.vm_id == made.id)
                    .values(state=VolumeState.READY.value, path=f"root-{made.uuid}")
                )
                host_row = dict(conn.execute(select(host).where(host.c.id == made.placement.host_id)).mappings().one())  # type: ignore[union-attr]
            with open_host_driver(host_row) as driver:
                driver.define_vm(VMSpec(name=made.instance_name, uuid=made.uuid, vcpus=1, memory_bytes=512 << 20))
                driver.start_vm(made.instance_name)
        return {"id": made.id, "uuid": made.uuid, "instance_name": made.instance_name, "placement": made.placement}


def caller(engine: Engine, account_id: int, role: RoleType) -> Caller:
    """A caller acting as the account's user."""
    with engine.connect() as conn:
        row = conn.execute(select(account.c.uuid, account.c.name).where(account.c.id == account_id)).one()
        dom = conn.execute(select(domain.c.uuid, domain.c.path)).first()
    assert dom is not None
    return Caller("u-" + row.name, row.name, row.uuid, row.name, dom.uuid, dom.path, "r", role)


def build_world(engine: Engine) -> World:
    """Zone z1 with a Simulator cluster (two hosts, two 100 GiB pools) and offerings."""
    cloud = Cloud(engine)
    cluster = cloud.cluster("c1", hypervisor="Simulator")
    # Simulated hosts live on in the process-wide simulator: a fresh URL per test keeps VM names apart.
    prefix = uuidlib.uuid4().hex[:8]
    hosts = [cloud.host(cluster, f"{prefix}/h{i}", hypervisor="Simulator") for i in range(2)]
    pools = [cloud.pool(f"ps{i}", cluster_id=cluster, capacity_gib=100) for i in range(2)]
    offering = cloud.offering("small", root_gib=10)
    disk = cloud.disk_offering("data", size_gib=20)
    custom = cloud.run(
        insert(disk_offering).values(name="custom", display_text="custom", disk_size=0, is_customized=True)
    )
    with engine.begin() as conn:
        admin_account = cloud._id(
            conn,
            insert(account).values(
                name="admin",
                type=1,
                role_id=conn.execute(select(account.c.role_id)).scalars().first(),
                domain_id=cloud.domain_id,
            ),
        )
        zone_uuid = conn.execute(select(zone.c.uuid).where(zone.c.id == cloud.zone_id)).scalar_one()
        # These tests measure placement and listings, not resource limits (tests/unit/services/test_resource_limits.py
        # does): the users may hold whatever the tests create (CloudStack's defaults allow 20 volumes, 200 GiB).
        conn.execute(
            insert(resource_limit),
            [
                {"type": kind.ordinal, "account_id": cloud.accounts[name], "max": -1}
                for name in ("alice", "bob")
                for kind in RESOURCE_TYPES
            ],
        )
    return World(
        cloud,
        cluster,
        hosts,
        pools,
        offering,
        disk,
        custom,
        str(zone_uuid),
        caller(engine, cloud.accounts["alice"], RoleType.USER),
        caller(engine, cloud.accounts["bob"], RoleType.USER),
        caller(engine, admin_account, RoleType.ADMIN),
    )


__all__ = ["GIB", "World", "build_world"]
