"""Maintenance that moves VMs: ``prepareHostForMaintenance`` and ``enableStorageMaintenance``.

A host entering maintenance goes Enabled -> PrepareForMaintenance, its Running VMs are live-migrated one
by one to hosts the allocator chooses (never the host itself), then it is Maintenance, or
ErrorInPrepareForMaintenance when a VM could not move, and the job fails naming each such VM and why
(CloudStack's ``ResourceState`` machine). A pool entering maintenance goes PrepareForMaintenance, the
Running VMs with volumes on it are stopped (CloudStack's ``StoragePoolAutomation`` stops user VMs), then
Maintenance, or ErrorInMaintenance when one would not stop. No transaction is open while VMs move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, select, update

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, storage_pool, vm_instance, volume
from provisioner.exceptions import ApiError, InternalError, ParamError
from provisioner.services.compute.operations.migrate import migrate
from provisioner.services.compute.states import HOLDS_HOST
from provisioner.services.infrastructure.common import Row, get_live, require_root
from provisioner.services.infrastructure.host_states import MAINTENANCE_FROM
from provisioner.services.infrastructure.hosts import one_host
from provisioner.services.infrastructure.storage_pools import one_pool
from provisioner.services.principal import Caller

log = logging.getLogger(__name__)

PREPARE, MAINTENANCE = "PrepareForMaintenance", "Maintenance"
ERROR_IN_PREPARE, ERROR_IN_MAINTENANCE = "ErrorInPrepareForMaintenance", "ErrorInMaintenance"
#: Pool states from which ``enableStorageMaintenance`` may start.
POOL_MAINTENANCE_FROM = ("Up", "Disabled", ERROR_IN_MAINTENANCE)
_HOLDING = sorted(state.value for state in HOLDS_HOST)

#: Stops one VM by internal id (the VM lifecycle's stop, given by the API layer).
VmStopper = Callable[[Engine, int], None]


def _failure_text(what: str, failures: list[tuple[str, str]], state: str) -> str:
    moved = "; ".join(f"VM {name}: {reason}" for name, reason in failures)
    return f"{what}: {moved}. It is now {state}; free capacity and ask again, or cancel the maintenance"


def _begin_host(conn: Connection, caller: Caller, uuid: str) -> tuple[int, str, list[tuple[int, str, str]]]:
    require_root(caller, "prepareHostForMaintenance")
    row = get_live(conn, host, uuid)
    if row["resource_state"] not in MAINTENANCE_FROM:
        raise ParamError(
            f"Unable to prepare host {row['uuid']} for maintenance: its resource state is {row['resource_state']}"
        )
    conn.execute(update(host).where(host.c.id == row["id"]).values(resource_state=PREPARE))
    vms = conn.execute(
        select(vm_instance.c.id, vm_instance.c.name, vm_instance.c.state)
        .where(vm_instance.c.host_id == row["id"], vm_instance.c.state.in_(_HOLDING), vm_instance.c.removed.is_(None))
        .order_by(vm_instance.c.id)
    ).all()
    return int(row["id"]), str(row["name"]), [(int(v.id), v.name, v.state) for v in vms]


def _finish(conn: Connection, host_id: int, failed: bool) -> tuple[str, Row]:
    """PrepareForMaintenance -> Maintenance (empty) or ErrorInPrepareForMaintenance; an admin's cancel wins."""
    left = conn.execute(
        select(vm_instance.c.name).where(
            vm_instance.c.host_id == host_id, vm_instance.c.state.in_(_HOLDING), vm_instance.c.removed.is_(None)
        )
    ).first()
    final = ERROR_IN_PREPARE if failed or left is not None else MAINTENANCE
    conn.execute(
        update(host).where(host.c.id == host_id, host.c.resource_state == PREPARE).values(resource_state=final)
    )
    return final, one_host(conn, host_id)


def prepare_host_for_maintenance(engine: Engine, caller: Caller, uuid: str) -> Row:
    """Migrate the host's running VMs away and put it in Maintenance.

    Raises:
        ParamError: the host is already in (or entering) maintenance (431).
        InternalError: some VMs could not move (530); the host is ErrorInPrepareForMaintenance.
    """
    host_id, name, vms = run_in_transaction(engine, lambda conn: _begin_host(conn, caller, uuid))
    failures: list[tuple[str, str]] = []
    for vm_id, vm_name, state in vms:
        if state != VMState.RUNNING.value:
            failures.append((vm_name, f"it is {state}, not Running"))
            continue
        try:
            migrate(engine, vm_id, avoid=frozenset({host_id}))
        except ApiError as exc:
            log.warning("evacuating VM %s from host %s failed: %s", vm_name, name, exc)
            failures.append((vm_name, str(exc)))
    final, row = run_in_transaction(engine, lambda conn: _finish(conn, host_id, bool(failures)))
    if final == ERROR_IN_PREPARE:
        failures = failures or [("(unknown)", "a VM came back onto the host while it was being emptied")]
        raise InternalError(_failure_text(f"Unable to migrate all VMs away from host {name}", failures, final))
    return row


def _begin_pool(conn: Connection, caller: Caller, uuid: str) -> tuple[int, str, list[tuple[int, str]]]:
    require_root(caller, "enableStorageMaintenance")
    row = get_live(conn, storage_pool, uuid)
    if row["state"] not in POOL_MAINTENANCE_FROM:
        raise ParamError(f"Primary storage {row['uuid']} is not ready for maintenance: its state is {row['state']}")
    conn.execute(update(storage_pool).where(storage_pool.c.id == row["id"]).values(state=PREPARE))
    vms = conn.execute(
        select(vm_instance.c.id, vm_instance.c.name)
        .distinct()
        .join(volume, volume.c.vm_id == vm_instance.c.id)
        .where(
            volume.c.pool_id == row["id"],
            volume.c.removed.is_(None),
            vm_instance.c.removed.is_(None),
            vm_instance.c.state.in_(_HOLDING),
        )
        .order_by(vm_instance.c.id)
    ).all()
    return int(row["id"]), str(row["name"]), [(int(v.id), v.name) for v in vms]


def enable_storage_maintenance(engine: Engine, caller: Caller, uuid: str, *, stop: VmStopper) -> Row:
    """Stop the VMs using the pool and put it in Maintenance.

    Raises:
        ParamError: the pool is not Up, Disabled or ErrorInMaintenance (431).
        InternalError: some VMs would not stop (530); the pool is ErrorInMaintenance.
    """
    pool_id, name, vms = run_in_transaction(engine, lambda conn: _begin_pool(conn, caller, uuid))
    failures: list[tuple[str, str]] = []
    for vm_id, vm_name in vms:
        try:
            stop(engine, vm_id)
        except ApiError as exc:
            log.warning("stopping VM %s for the maintenance of pool %s failed: %s", vm_name, name, exc)
            failures.append((vm_name, str(exc)))
    final = ERROR_IN_MAINTENANCE if failures else MAINTENANCE

    def finish(conn: Connection) -> Row:
        conn.execute(
            update(storage_pool)
            .where(storage_pool.c.id == pool_id, storage_pool.c.state == PREPARE)
            .values(state=final)
        )
        return one_pool(conn, pool_id)

    row = run_in_transaction(engine, finish)
    if failures:
        raise InternalError(_failure_text(f"Unable to stop all VMs using primary storage {name}", failures, final))
    return row
