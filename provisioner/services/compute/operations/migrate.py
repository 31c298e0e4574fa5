"""Live migration (``migrateVirtualMachine``): reserve the destination, move the VM, then free the source.

Three steps, as the lifecycle's power verbs: a transaction places the VM on a destination through the
allocator (a ``hostid`` hint, or the planner's choice among the other Up/Enabled hosts that reach its
storage), reserves the destination's share and moves the VM Running -> Migrating; the source host's driver
moves the VM with no transaction open; a transaction then releases the source's share and makes the VM
Running on the destination, or, when the driver failed, releases the destination's share and makes it
Running on the source again. The destination's share is recorded in ``vm_migration`` meanwhile, so a
server killed mid-migration leaves nothing behind: the job reconciler returns the VM to Running on its
source and :func:`release_stale_migrations` (run by every host health round) gives the share back.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from provisioner.compute.registry import get_driver
from provisioner.compute.types import Features, VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, service_offering, vm_instance, vm_migration
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.compute.allocator import allocate, release_host
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.host_drivers import host_driver_uri, open_host_driver
from provisioner.services.compute.settings import planner_settings
from provisioner.services.compute.states import VMEvent
from provisioner.services.compute.transitions import _start_request, transition
from provisioner.services.compute.vms import vm_row

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class MigrationPlan:
    """A migration begun: the VM as it was, its source and destination host rows."""

    vm: Any
    source: Any
    dest: Any


def host_by_id(conn: Connection, host_id: int) -> Any:
    """The host row (with the columns :func:`open_host_driver` needs)."""
    return conn.execute(select(host).where(host.c.id == host_id)).mappings().one()


def _sizes(vm: Any) -> tuple[int, int, int]:
    return vm.cpu_number * vm.cpu_speed, vm.cpu_number, vm.memory * MIB


def begin_migration(
    conn: Connection, vm_id: int, host_id: int | None, *, avoid: frozenset[int] = frozenset()
) -> MigrationPlan:
    """Running -> Migrating with the destination chosen and its share reserved (one transaction).

    Args:
        conn: a connection inside a transaction.
        vm_id: the VM.
        host_id: the destination (``hostid``), or None to let the allocator choose.
        avoid: further hosts the allocator must not choose (maintenance evacuates hosts one by one).

    Raises:
        ParamError: the VM is not Running, the destination is its host, or its hypervisor cannot migrate (431).
        InsufficientCapacityError: no other host fits (533).
    """
    vm = vm_row(conn, vm_id)
    if vm.state != VMState.RUNNING.value or vm.host_id is None:
        raise ParamError(f"VM is not Running, unable to migrate the vm {vm.name} ({vm.uuid}): it is {vm.state}")
    if host_id == vm.host_id:
        raise ParamError(f"Cannot migrate VM {vm.name}, destination host is same as current host")
    source = host_by_id(conn, vm.host_id)
    if Features.MIGRATION not in get_driver(source["driver"]).features:
        raise ParamError(
            f"Unable to migrate VM {vm.name}: the {source['driver']} driver of host {source['name']} cannot migrate VMs"
        )
    request, _ = _start_request(conn, vm, True, host_id)
    request = dataclasses.replace(
        request, last_host_id=None, avoid_hosts=request.avoid_hosts | avoid | {vm.host_id}, is_root_admin=True
    )
    planner = conn.execute(
        select(service_offering.c.deployment_planner).where(service_offering.c.id == vm.service_offering_id)
    ).scalar_one()
    placement = allocate(conn, request, planner_settings(conn, planner))
    transition(conn, vm_id, VMEvent.MIGRATION_REQUESTED)
    cpu_mhz, cores, memory = _sizes(vm)
    conn.execute(
        insert(vm_migration).values(
            vm_id=vm_id,
            source_host_id=vm.host_id,
            dest_host_id=placement.host_id,
            cpu_mhz=cpu_mhz,
            cores=cores,
            memory=memory,
        )
    )
    return MigrationPlan(vm, source, host_by_id(conn, placement.host_id))


def _end(conn: Connection, plan: MigrationPlan, *, moved: bool) -> None:
    """End a migration: the share of the host the VM left is released, the VM is Running where it is."""
    gone = conn.execute(delete(vm_migration).where(vm_migration.c.vm_id == plan.vm.id)).rowcount
    if gone != 1:
        raise InternalError(f"The migration of VM {plan.vm.name} was ended by another server; check its host")
    left = plan.source if moved else plan.dest
    release_host(conn, left["id"], *_sizes(plan.vm))
    if moved:
        transition(
            conn,
            plan.vm.id,
            VMEvent.OPERATION_SUCCEEDED,
            host_id=plan.dest["id"],
            last_host_id=plan.source["id"],
            pod_id=plan.dest["pod_id"],
            cluster_id=plan.dest["cluster_id"],
        )
    else:
        transition(conn, plan.vm.id, VMEvent.OPERATION_FAILED)


def migrate(engine: Engine, vm_id: int, host_id: int | None = None, *, avoid: frozenset[int] = frozenset()) -> int:
    """Live-migrate a Running VM; returns the destination host's id.

    Raises:
        ParamError: the VM cannot be migrated as asked (431).
        InsufficientCapacityError: no destination fits (533).
        InternalError: the hypervisor failed; the VM is Running on its source again (530).
    """
    plan = run_in_transaction(engine, lambda conn: begin_migration(conn, vm_id, host_id, avoid=avoid))
    try:
        with open_host_driver(plan.source) as driver:
            driver.migrate_vm(plan.vm.instance_name, host_driver_uri(plan.dest), live=True)
    except Exception as exc:
        log.warning("migrating VM %s to host %s failed: %s", plan.vm.instance_name, plan.dest["name"], exc)
        run_in_transaction(engine, lambda conn: _end(conn, plan, moved=False))
        raise InternalError(
            f"Failed to migrate VM {plan.vm.name} ({plan.vm.uuid}) from host {plan.source['name']} "
            f"to host {plan.dest['name']}: {exc}"
        ) from None
    run_in_transaction(engine, lambda conn: _end(conn, plan, moved=True))
    return int(plan.dest["id"])


def release_stale_migrations(conn: Connection) -> int:
    """Give back the destination share of migrations whose VM is no longer Migrating (a crash); returns how many."""
    rows = conn.execute(
        select(vm_migration, vm_instance.c.host_id.label("vm_host_id"))
        .join(vm_instance, vm_instance.c.id == vm_migration.c.vm_id)
        .where((vm_instance.c.state != VMState.MIGRATING.value) | vm_instance.c.removed.is_not(None))
    ).all()
    released = 0
    for r in rows:
        # Conditional: when several servers clean up at once, each row is released exactly once.
        if conn.execute(delete(vm_migration).where(vm_migration.c.id == r.id)).rowcount != 1:
            continue
        if r.vm_host_id != r.dest_host_id:
            release_host(conn, r.dest_host_id, r.cpu_mhz, r.cores, r.memory)
        released += 1
    return released
