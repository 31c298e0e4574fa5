"""Job rows: submit, claim (one owner, per-resource order), finish, query and list with visibility."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, bindparam, delete, exists, insert, select, update

from provisioner.db.schema import account, async_job, domain, new_uuid, user, utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import count_of, paginate
from provisioner.services.identity.visibility import can_manage_domain, visible_condition
from provisioner.services.jobs.models import JobStatus, JobView
from provisioner.services.principal import Caller

_older = async_job.alias("older")


def submit(
    conn: Connection,
    caller: Caller,
    cmd: str,
    params: dict[str, Any],
    *,
    instance_type: str | None = None,
    instance_id: str | None = None,
    sync_object: str | None = None,
    job_uuid: str | None = None,
    init_msid: int | None = None,
) -> str:
    """Store a new job (status 0, unowned) and return its UUID.

    Args:
        conn: a connection inside a transaction.
        caller: who submits it; the job runs as this caller.
        cmd: the API command name the executor dispatches on.
        params: JSON-serialisable parameters (never secrets: they are stored as-is).
        instance_type: e.g. ``VirtualMachine``; also picks the reconciler after a crash.
        instance_id: the public id of the resource the job changes.
        sync_object: jobs with the same value run one at a time in submission order
            (default ``<instance_type>:<instance_id>`` when both are given).
        job_uuid: a client-chosen id (``customjobid``).
        init_msid: the node that accepted the request.
    """
    if sync_object is None and instance_type and instance_id:
        sync_object = f"{instance_type}:{instance_id}"
    ids = conn.execute(_SUBMITTER, {"uuid": caller.user_id}).one()
    values: dict[str, Any] = {
        "user_id": ids.id,
        "account_id": ids.account_id,
        "domain_id": ids.domain_id,
        "cmd": cmd,
        "params": json.loads(json.dumps(params)),
        "status": int(JobStatus.IN_PROGRESS),
        "instance_type": instance_type,
        "instance_id": instance_id,
        "sync_object": sync_object,
        "init_msid": init_msid,
    }
    if job_uuid and conn.execute(select(async_job.c.id).where(async_job.c.uuid == job_uuid.lower())).first():
        raise ParamError(f"A job with id {job_uuid} already exists")
    values["uuid"] = job_uuid.lower() if job_uuid else new_uuid()
    conn.execute(_INSERT, values)
    return str(values["uuid"])


_SUBMITTER = select(user.c.id, user.c.account_id, user.c.domain_id).where(user.c.uuid == bindparam("uuid"))
_INSERT = insert(async_job)


def claimable() -> Any:
    """Unowned pending jobs that head their sync queue (no older pending job on the same object)."""
    blocked = exists().where(
        _older.c.sync_object == async_job.c.sync_object,
        _older.c.status == int(JobStatus.IN_PROGRESS),
        _older.c.id < async_job.c.id,
    )
    return and_(
        async_job.c.status == int(JobStatus.IN_PROGRESS),
        async_job.c.owner_msid.is_(None),
        async_job.c.sync_object.is_(None) | ~blocked,
    )


def claim(conn: Connection, msid: int, lease_seconds: float, limit: int = 1) -> list[int]:
    """Take up to ``limit`` runnable jobs for node ``msid``; returns their internal ids.

    PostgreSQL locks candidates with ``FOR UPDATE SKIP LOCKED`` so concurrent nodes pass each
    other by; SQLite transactions are serialised by ``BEGIN IMMEDIATE``. On both, the UPDATE
    repeats the "unowned and pending" test, so a job can never get two owners.
    """
    now = utcnow()
    claimed: list[int] = []
    for job_id in conn.execute(_claimable_ids(conn.dialect.name, limit)).scalars():
        result = conn.execute(
            _TAKE, {"job": job_id, "msid": msid, "lease": now + timedelta(seconds=lease_seconds), "now": now}
        )
        if result.rowcount == 1:
            claimed.append(int(job_id))
    return claimed


# Built once: every job runs these (and idle workers poll with the first), and building a statement (and its
# cache key) costs more than running it.
@functools.cache
def _claimable_ids(dialect: str, limit: int) -> Select[Any]:
    query = select(async_job.c.id).where(claimable()).order_by(async_job.c.id).limit(limit)
    return query.with_for_update(skip_locked=True, of=async_job) if dialect == "postgresql" else query


_TAKE = (
    update(async_job)
    .where(
        async_job.c.id == bindparam("job"),
        async_job.c.status == int(JobStatus.IN_PROGRESS),
        async_job.c.owner_msid.is_(None),
    )
    .values(owner_msid=bindparam("msid"), lease_expires=bindparam("lease"), started=bindparam("now"))
)
_RUNNING = (
    select(async_job, user.c.uuid.label("user_uuid"))
    .join(user, user.c.id == async_job.c.user_id)
    .where(async_job.c.id == bindparam("job"))
)


def load_running(conn: Connection, job_id: int) -> Row[Any]:
    """The job row plus its submitter's public ids (to rebuild the caller)."""
    return conn.execute(_RUNNING, {"job": job_id}).one()


def finish(
    conn: Connection, job_id: int, msid: int, *, status: JobStatus, result_code: int, result: Any, result_type: str
) -> bool:
    """Record a job's outcome if ``msid`` still owns it; False when it was taken away meanwhile."""
    values = {"status": int(status), "result_code": result_code, "result": result, "result_type": result_type}
    updated = conn.execute(_FINISH, {"job": job_id, "msid": msid, "completed": utcnow(), **values})
    return bool(updated.rowcount == 1)


#: Built once: every job ends with it.
_FINISH = (
    update(async_job)
    .where(
        async_job.c.id == bindparam("job"),
        async_job.c.owner_msid == bindparam("msid"),
        async_job.c.status == int(JobStatus.IN_PROGRESS),
    )
    .values(lease_expires=None)
)


def renew_leases(conn: Connection, msid: int, job_ids: list[int], lease_seconds: float) -> None:
    """Push the lease of jobs this node is running forward."""
    if job_ids:
        conn.execute(
            update(async_job)
            .where(async_job.c.id.in_(job_ids), async_job.c.owner_msid == msid)
            .values(lease_expires=utcnow() + timedelta(seconds=lease_seconds))
        )


def cancel_stale_waiting(conn: Connection, older_than: datetime, minutes: float) -> list[str]:
    """Fail queued jobs still waiting for their resource since before ``older_than``.

    A job stuck behind another on the same ``sync_object`` surfaces as a failure the client
    sees (``job.cancel.threshold.minutes``), never as a silent hang. Returns the failed UUIDs.
    """
    stale = conn.execute(
        select(async_job.c.id, async_job.c.uuid, async_job.c.sync_object)
        .where(
            async_job.c.status == int(JobStatus.IN_PROGRESS),
            async_job.c.owner_msid.is_(None),
            async_job.c.sync_object.is_not(None),
            async_job.c.created < older_than,
        )
        .order_by(async_job.c.id)
        .limit(500)
    ).all()
    failed: list[str] = []
    for row in stale:
        text = f"Job is cancelled as it waited more than {minutes:g} minutes for {row.sync_object}"
        done = conn.execute(
            update(async_job)
            .where(
                async_job.c.id == row.id,
                async_job.c.status == int(JobStatus.IN_PROGRESS),
                async_job.c.owner_msid.is_(None),
            )
            .values(
                status=int(JobStatus.FAILED),
                result_code=530,
                result={"errorcode": 530, "errortext": text},
                result_type="object",
                completed=utcnow(),
            )
        )
        if done.rowcount == 1:
            failed.append(row.uuid)
    return failed


def purge_expired(conn: Connection, older_than: datetime) -> int:
    """Delete finished jobs completed before ``older_than`` (``job.expire.minutes``)."""
    result = conn.execute(
        delete(async_job).where(async_job.c.status != int(JobStatus.IN_PROGRESS), async_job.c.completed < older_than)
    )
    return int(result.rowcount)


def _view_query() -> Any:
    return (
        select(
            async_job,
            user.c.uuid.label("user_uuid"),
            account.c.uuid.label("account_uuid"),
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(user, user.c.id == async_job.c.user_id)
        .join(account, account.c.id == async_job.c.account_id)
        .join(domain, domain.c.id == async_job.c.domain_id)
    )


def _to_view(row: Row[Any]) -> JobView:
    m = row._mapping
    return JobView(
        jobid=m["uuid"],
        cmd=m["cmd"],
        jobstatus=m["status"],
        jobresultcode=m["result_code"] if m["result_code"] is not None else 0,
        jobresulttype=m["result_type"],
        jobresult=m["result"],
        jobinstancetype=m["instance_type"],
        jobinstanceid=m["instance_id"],
        created=m["created"],
        completed=m["completed"],
        userid=m["user_uuid"],
        accountid=m["account_uuid"],
        account=m["account_name"],
        domainid=m["domain_uuid"],
        domain=m["domain_name"],
        managementserverid=m["owner_msid"],
    )


def query(conn: Connection, caller: Caller, job_uuid: str) -> JobView:
    """``queryAsyncJobResult``: users see their account's jobs, domain admins their subtree's.

    Raises:
        ParamError: no such job (431).
        PermissionDeniedError: the job belongs to an account the caller may not see (531).
    """
    row = conn.execute(_view_query().where(async_job.c.uuid == job_uuid.strip().lower())).first()
    if row is None:
        raise ParamError(f"Unable to find job by id {job_uuid}")
    if not (row.account_uuid == caller.account_id or can_manage_domain(caller, row.domain_path)):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to access this job")
    return _to_view(row)


def list_jobs(
    conn: Connection,
    caller: Caller,
    *,
    account_name: str | None = None,
    domain_uuid: str | None = None,
    start_date: datetime | None = None,
    keyword: str | None = None,
    status: int | None = None,
    msid: int | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[JobView]]:
    """``listAsyncJobs`` within what ``caller`` may see, newest first; returns (total count, one page)."""
    query_ = _view_query().where(visible_condition(caller, async_job.c.account_id, async_job.c.domain_id))
    if account_name:
        query_ = query_.where(account.c.name == account_name)
    if domain_uuid:
        query_ = query_.where(domain.c.uuid == domain_uuid.lower())
    if start_date:
        query_ = query_.where(async_job.c.created >= start_date)
    if keyword:
        query_ = query_.where(async_job.c.cmd.contains(keyword, autoescape=True))
    if status is not None:
        query_ = query_.where(async_job.c.status == status)
    if msid is not None:
        query_ = query_.where(async_job.c.owner_msid == msid)
    query_ = query_.order_by(async_job.c.id.desc())
    total = count_of(conn, query_)
    return total, [_to_view(row) for row in conn.execute(paginate(query_, page, pagesize))]
