"""After a crash: return VMs and volumes left in transitional states to stable ones, capacity included.

Registered for ``instance_type`` ``VirtualMachine``: the jobs service calls it in the same
transaction that fails the dead server's job (§12, §13 row 7). Every transition goes through
:func:`~provisioner.services.compute.transitions.transition`, so the capacity a VM held is
released exactly when its new state no longer holds it, and the counters keep adding up.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from provisioner.compute.types import PowerState, VMState
from provisioner.db.schema import vm_instance, volume
from provisioner.services.compute.states import VOLUME_RECOVERY, VMEvent
from provisioner.services.compute.transitions import transition
from provisioner.services.jobs import register_reconciler
from provisioner.services.jobs.models import FailedJob

VM_INSTANCE_TYPE = "VirtualMachine"


def recover_vm_state(conn: Connection, vm_id: int) -> VMState | None:
    """Move one VM out of a transitional state; returns its new state, or None when it was stable.

    Starting -> Stopped; Stopping -> Running if the hypervisor last reported it on, else Stopped;
    Migrating -> Running on the source host; Expunging -> Destroyed (the expunger tries again).
    """
    row = conn.execute(
        select(vm_instance.c.state, vm_instance.c.power_state).where(
            vm_instance.c.id == vm_id, vm_instance.c.removed.is_(None)
        )
    ).first()
    if row is None:
        return None
    state = VMState(row.state)
    new: VMState | None = None
    if state in (VMState.STARTING, VMState.MIGRATING, VMState.EXPUNGING):
        new = transition(conn, vm_id, VMEvent.OPERATION_FAILED)
    elif state == VMState.STOPPING:
        still_on = row.power_state == PowerState.POWER_ON.value
        new = transition(conn, vm_id, VMEvent.OPERATION_FAILED if still_on else VMEvent.OPERATION_SUCCEEDED)
    for stuck, stable in VOLUME_RECOVERY.items():
        conn.execute(
            update(volume)
            .where(volume.c.vm_id == vm_id, volume.c.state == stuck.value, volume.c.removed.is_(None))
            .values(state=stable.value, update_count=volume.c.update_count + 1)
        )
    return new


def reconcile_vm(conn: Connection, job: FailedJob) -> None:
    """The ``VirtualMachine`` reconciler: the job's ``instance_id`` is the VM's public id."""
    if not job.instance_id:
        return
    vm_id = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == job.instance_id)).scalar()
    if vm_id is not None:
        recover_vm_state(conn, int(vm_id))


register_reconciler(VM_INSTANCE_TYPE, reconcile_vm)
