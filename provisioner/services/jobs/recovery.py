"""Node liveness (``mshost`` heartbeats) and recovery of jobs whose server died.

A job whose owner is gone is never resumed: it is failed with 530 and CloudStack's text, and the
reconciler registered for its ``instance_type`` returns the resource to a stable state in the
same transaction (e.g. a VM left ``Starting`` goes back to ``Stopped``).
"""

from __future__ import annotations

import logging
import os
import traceback
import uuid as uuidlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from provisioner.db.schema import async_job, mshost, utcnow
from provisioner.services.jobs.models import RESTART_TEXT, FailedJob, JobStatus

log = logging.getLogger(__name__)

Reconciler = Callable[[Connection, FailedJob], None]

#: Reconcilers by ``instance_type``; areas register theirs at import (``register_reconciler``).
RECONCILERS: dict[str, Reconciler] = {}


def log_failure(what: str, exc: BaseException) -> None:
    """Log an exception's class and where it came from, but neither its text nor source lines (secrets)."""
    stack = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
    log.error("%s: %s (message withheld)\n%s", what, type(exc).__name__, stack)


def register_reconciler(instance_type: str, reconciler: Reconciler) -> None:
    """Register what returns a resource of ``instance_type`` to a stable state after a crash.

    The reconciler runs inside the transaction that fails the job, in a savepoint: if it
    raises, its changes are rolled back and logged, and the job is failed all the same.
    """
    RECONCILERS[instance_type] = reconciler


def default_msid(port: int = 0) -> int:
    """A node id stable across restarts of one server: the MAC address (as CloudStack) plus the port."""
    return ((uuidlib.getnode() << 16) | (port & 0xFFFF)) & 0x7FFF_FFFF_FFFF_FFFF


def register_node(conn: Connection, msid: int, *, name: str, version: str, service_ip: str, service_port: int) -> int:
    """Insert or refresh this node's ``mshost`` row with a new ``runid``; returns the runid."""
    runid = int.from_bytes(os.urandom(6), "big")
    now = utcnow()
    values = {
        "runid": runid,
        "name": name,
        "version": version,
        "service_ip": service_ip,
        "service_port": service_port,
        "last_heartbeat": now,
        "state": "Up",
        "removed": None,
    }
    if conn.execute(select(mshost.c.id).where(mshost.c.msid == msid)).first():
        conn.execute(update(mshost).where(mshost.c.msid == msid).values(**values))
    else:
        conn.execute(insert(mshost).values(msid=msid, **values))
    return runid


def heartbeat(conn: Connection, msid: int, state: str = "Up") -> None:
    """Record that this node is alive."""
    conn.execute(update(mshost).where(mshost.c.msid == msid).values(last_heartbeat=utcnow(), state=state))


def dead_nodes(conn: Connection, msid: int, threshold_seconds: float) -> list[int]:
    """Other nodes whose heartbeat is older than the threshold (liveness is never a stored flag)."""
    cutoff = utcnow() - timedelta(seconds=threshold_seconds)
    return [
        int(m)
        for m in conn.execute(
            # Nodes already marked Down were recovered before; a live one sets itself Up on its next beat.
            select(mshost.c.msid).where(
                mshost.c.msid != msid, mshost.c.last_heartbeat < cutoff, mshost.c.state != "Down"
            )
        ).scalars()
    ]


def fail_orphans(
    conn: Connection,
    *,
    own_msid: int,
    include_own: bool,
    dead_msids: list[int],
    reconcilers: dict[str, Reconciler] | None = None,
    limit: int = 500,
) -> list[str]:
    """Fail in-progress jobs of dead owners (and, on start, this node's leftovers); returns their UUIDs.

    Owners count as dead when listed in ``dead_msids``, when they are this node and
    ``include_own`` (a restart: nothing of the previous run is still executing), or when the
    job's lease has expired. Each job is failed with a conditional UPDATE, so when two
    survivors recover the same node each job is failed, and reconciled, exactly once.
    """
    owners = list(dead_msids) + ([own_msid] if include_own else [])
    now = utcnow()
    lost = async_job.c.lease_expires < now
    if owners:
        lost = or_(lost, async_job.c.owner_msid.in_(owners))
    rows = conn.execute(
        select(async_job)
        .where(async_job.c.status == int(JobStatus.IN_PROGRESS), async_job.c.owner_msid.is_not(None), lost)
        .order_by(async_job.c.id)
        .limit(limit)
    ).all()
    table = RECONCILERS if reconcilers is None else reconcilers
    failed: list[str] = []
    for row in rows:
        done = conn.execute(
            update(async_job)
            .where(
                async_job.c.id == row.id,
                async_job.c.status == int(JobStatus.IN_PROGRESS),
                async_job.c.owner_msid == row.owner_msid,
            )
            .values(
                status=int(JobStatus.FAILED),
                result_code=530,
                result={"errorcode": 530, "errortext": RESTART_TEXT},
                result_type="object",
                completed=now,
                lease_expires=None,
            )
        )
        if done.rowcount != 1:
            continue
        failed.append(row.uuid)
        _reconcile(conn, table, row)
    if dead_msids:
        conn.execute(update(mshost).where(mshost.c.msid.in_(dead_msids)).values(state="Down"))
    return failed


def _reconcile(conn: Connection, table: dict[str, Reconciler], row: Any) -> None:
    reconciler = table.get(row.instance_type or "")
    if reconciler is None:
        return
    job = FailedJob(row.uuid, row.cmd, dict(row.params or {}), row.instance_type, row.instance_id, row.owner_msid)
    savepoint = conn.begin_nested()
    try:
        reconciler(conn, job)
    except Exception as exc:
        savepoint.rollback()
        log_failure(f"reconciler for {row.instance_type} {row.instance_id} failed", exc)
    else:
        savepoint.commit()
