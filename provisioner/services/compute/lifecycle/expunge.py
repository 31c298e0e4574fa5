"""Destroy, recover and expunge, and the background expunger (``expunge.delay`` / ``expunge.interval``).

Destroy is a state change (Stopped -> Destroyed, the root volume to Destroy); the hypervisor is only
touched when the VM is expunged: Destroyed/Error -> Expunging in one transaction, the driver deletes
the VM and its disks, then one transaction frees its pools, addresses and MACs and removes the row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import utcnow, vm_instance, volume
from provisioner.exceptions import ApiError, InternalError, VMNotFoundError
from provisioner.server.background import PeriodicTask
from provisioner.services.compute import transitions
from provisioner.services.compute.allocator import release_pool
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle import base_images, host_disks
from provisioner.services.compute.lifecycle.power import stop
from provisioner.services.compute.lifecycle.specs import host_row
from provisioner.services.compute.states import VMEvent, VolumeState
from provisioner.services.compute.vms import vm_row
from provisioner.services.configuration import config_value
from provisioner.services.volumes.disks import delete_disk

log = logging.getLogger(__name__)

EXPUNGE_DELAY = "expunge.delay"
EXPUNGE_INTERVAL = "expunge.interval"
#: VMs one expunger round handles at most (the next round takes the rest).
EXPUNGE_BATCH = 100


def destroy(engine: Engine, vm_id: int, *, expunge: bool = False) -> None:
    """Stop the VM if it runs, then Destroyed; expunged at once when ``expunge``.

    A VM already Destroyed is left as it is (or expunged when asked), as CloudStack does.

    Raises:
        ParamError: the VM is in a transitional state (431).
        InternalError: the hypervisor failed to stop or delete it (530).
    """
    state = run_in_transaction(engine, lambda conn: vm_row(conn, vm_id).state)
    if state == VMState.RUNNING.value:
        stop(engine, vm_id, forced=True)
    if state != VMState.DESTROYED.value:
        run_in_transaction(engine, lambda conn: transitions.destroy_vm(conn, vm_id))
    if expunge:
        expunge_vm(engine, vm_id)


def recover(conn: Connection, vm_id: int) -> None:
    """Destroyed -> Stopped, the root volume back (``recoverVirtualMachine``)."""
    transitions.recover_vm(conn, vm_id)


def _drop_data_disks(conn: Connection, vm_id: int) -> None:
    """A failed deployment's data disks go with it: their pool bytes are released and they are removed."""
    now = utcnow()
    for v in conn.execute(
        select(volume.c.id, volume.c.pool_id, volume.c.size).where(
            volume.c.vm_id == vm_id, volume.c.removed.is_(None), volume.c.volume_type == "DATADISK"
        )
    ).all():
        if v.pool_id is not None:
            release_pool(conn, v.pool_id, v.size)
        conn.execute(
            update(volume)
            .where(volume.c.id == v.id)
            .values(state=VolumeState.EXPUNGED.value, removed=now, update_count=volume.c.update_count + 1)
        )


def fail_deployment(conn: Connection, vm_id: int) -> None:
    """A deployment that could not start: Error, then expunged at once, so it holds nothing.

    CloudStack leaves such a VM in Error for the expunger; everything it reserved (addresses, MACs,
    pool bytes) is given back here, in the transaction that records the failure.
    """
    vm = vm_row(conn, vm_id)
    if vm.state == VMState.STARTING.value:
        transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED)
    transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED_TO_ERROR)
    transitions.begin_expunge(conn, vm_id)
    _drop_data_disks(conn, vm_id)
    transitions.finish_expunge(conn, vm_id)


def expunge_vm(engine: Engine, vm_id: int) -> None:
    """Destroyed or Error -> Expunging -> removed, deleting the VM from its (last) host.

    Raises:
        ParamError: the VM is not Destroyed or Error (431).
        InternalError: the hypervisor failed to delete it (530); the VM is Destroyed again.
    """

    def begin(conn: Connection) -> tuple[Any, Any]:
        vm = vm_row(conn, vm_id)
        transitions.begin_expunge(conn, vm_id)
        where = vm.host_id or vm.last_host_id
        return vm, (host_row(conn, where) if where is not None else None)

    vm, host = run_in_transaction(engine, begin)
    if host is not None and host["removed"] is None:
        try:
            with open_host_driver(host) as driver:
                driver.destroy_vm(vm.instance_name)
        except VMNotFoundError:
            pass  # never defined there, or already deleted
        except Exception as exc:
            run_in_transaction(engine, lambda conn: transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED))
            raise InternalError(f"Unable to expunge VM {vm.name} ({vm.uuid}) on host {host['name']}: {exc}") from None

    # A root disk made in user space belongs to its pool: delete it before its base image loses this user.
    root = run_in_transaction(engine, lambda conn: host_disks.pool_owned_root(conn, vm_id))
    if root is not None:
        try:
            delete_disk(root.driver, root.pool, root.name)
        except Exception as exc:
            run_in_transaction(engine, lambda conn: transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED))
            raise InternalError(
                f"Unable to expunge VM {vm.name} ({vm.uuid}): deleting its root disk {root.name} from pool "
                f"{root.pool['name']} failed: {exc}; the expunge can be retried"
            ) from None
    base_images.release(engine, run_in_transaction(engine, lambda conn: base_images.held_by_root(conn, vm_id)))
    run_in_transaction(engine, lambda conn: transitions.finish_expunge(conn, vm_id))


def _seconds(conn: Connection, name: str, default: float) -> float:
    try:
        return float(config_value(conn, name) or default)
    except ValueError:
        return default


def due_for_expunge(conn: Connection, limit: int = EXPUNGE_BATCH) -> list[int]:
    """VMs Destroyed longer than ``expunge.delay`` seconds ago, and VMs in Error, oldest first."""
    delay = _seconds(conn, EXPUNGE_DELAY, 86400)
    cutoff = utcnow() - timedelta(seconds=delay)
    rows = conn.execute(
        select(vm_instance.c.id)
        .where(
            vm_instance.c.removed.is_(None),
            or_(
                (vm_instance.c.state == VMState.DESTROYED.value) & (vm_instance.c.update_time <= cutoff),
                vm_instance.c.state == VMState.ERROR.value,
            ),
        )
        .order_by(vm_instance.c.update_time, vm_instance.c.id)
        .limit(limit)
    )
    return [int(r) for r in rows.scalars()]


def expunge_round(engine: Engine, msid: int) -> int:
    """One expunger round: expunge the VMs that are due; returns how many went.

    Safe with several management servers: Destroyed -> Expunging is a conditional update, so a VM
    another server took first fails here with 530 and is skipped.
    """
    done = 0
    for vm_id in run_in_transaction(engine, due_for_expunge):
        try:
            expunge_vm(engine, vm_id)
            done += 1
        except ApiError as exc:
            log.info("expunger skipped VM %s: %s", vm_id, exc.errortext)
    return done


def _expunger(engine: Engine, msid: int) -> None:
    expunge_round(engine, msid)


#: The expunge thread (``expunge.interval`` seconds between rounds, VMs due after ``expunge.delay``).
EXPUNGER = PeriodicTask(
    name="expunger",
    run=_expunger,
    interval_setting=EXPUNGE_INTERVAL,
    default_interval=86400.0,
)
