"""After a crash: volumes, snapshots and VM snapshots a dead server's job left in transitional states.

Registered for the jobs' instance types ``Volume``, ``Snapshot`` and ``VMSnapshot``; the jobs service
calls a reconciler in the transaction that fails the orphaned job (see ``services/jobs/recovery``).
A volume caught Creating is unlinked and gives its pool back (its disk, if the storage made it, is
an orphan file the pool's owner may remove); Resizing and Migrating return to Ready, Expunging to
Destroy (``deleteVolume`` may be called again). A snapshot caught Creating ends in Error; a VM
snapshot Creating in Error, Reverting in Ready, Expunging (not yet removed) in Ready.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from provisioner.db.schema import snapshot, vm_snapshot, volume
from provisioner.services.compute.allocator import release_pool
from provisioner.services.compute.states import VOLUME_RECOVERY, VolumeState
from provisioner.services.jobs import register_reconciler
from provisioner.services.jobs.models import FailedJob


def recover_volume(conn: Connection, volume_uuid: str) -> VolumeState | None:
    """Return one volume to a stable state; its new state, or None when it was stable (or is unknown)."""
    row = conn.execute(select(volume).where(volume.c.uuid == volume_uuid.lower(), volume.c.removed.is_(None))).first()
    if row is None:
        return None
    state = VolumeState(row.state)
    values: dict[str, object] = {}
    if state == VolumeState.CREATING:
        if row.pool_id is not None:
            release_pool(conn, row.pool_id, row.size)
        target = VolumeState.ALLOCATED
        values = {"pool_id": None, "vm_id": None, "device_id": None, "attached": None}
    elif state in VOLUME_RECOVERY:
        target = VOLUME_RECOVERY[state]
    else:
        return None
    conn.execute(
        update(volume)
        .where(volume.c.id == row.id)
        .values(state=target.value, update_count=volume.c.update_count + 1, **values)
    )
    return target


def _reconcile_volume(conn: Connection, job: FailedJob) -> None:
    if job.instance_id:
        recover_volume(conn, job.instance_id)


def _reconcile_snapshot(conn: Connection, job: FailedJob) -> None:
    if job.instance_id:
        conn.execute(
            update(snapshot)
            .where(snapshot.c.uuid == job.instance_id.lower(), snapshot.c.state.in_(("Creating", "Allocated")))
            .values(state="Error", update_count=snapshot.c.update_count + 1)
        )


def _reconcile_vm_snapshot(conn: Connection, job: FailedJob) -> None:
    # revertToVMSnapshot and deleteVMSnapshot name it by vmsnapshotid, which is not the job's instance id.
    uuid = job.instance_id or job.params.get("vmsnapshotid")
    if not isinstance(uuid, str) or not uuid:
        return
    moves = (("Creating", "Error"), ("Allocated", "Error"), ("Reverting", "Ready"), ("Expunging", "Ready"))
    for stuck, stable in moves:
        conn.execute(
            update(vm_snapshot)
            .where(
                vm_snapshot.c.uuid == uuid.lower(),
                vm_snapshot.c.state == stuck,
                vm_snapshot.c.removed.is_(None),
            )
            .values(state=stable, update_count=vm_snapshot.c.update_count + 1)
        )


register_reconciler("Volume", _reconcile_volume)
register_reconciler("Snapshot", _reconcile_snapshot)
register_reconciler("VMSnapshot", _reconcile_vm_snapshot)
