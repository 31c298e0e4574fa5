"""The jobs facade the API layer calls: submit, query, list, and the pool that runs them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from provisioner.db.engine import run_in_transaction
from provisioner.services.jobs import store
from provisioner.services.jobs.models import JobView
from provisioner.services.jobs.worker import JobWorkerPool
from provisioner.services.principal import Caller


class JobService:
    """Async jobs stored in the database.

    Args:
        engine: the shared database.
        pool: this node's worker pool, woken on each local submit (None: submit only, e.g. a CLI).
    """

    def __init__(self, engine: Engine, pool: JobWorkerPool | None = None) -> None:
        self.engine = engine
        self.pool = pool

    def submit(
        self,
        caller: Caller,
        cmd: str,
        params: dict[str, Any],
        *,
        instance_type: str | None = None,
        instance_id: str | None = None,
        sync_object: str | None = None,
        job_uuid: str | None = None,
    ) -> str:
        """Queue a job; returns its UUID (the ``jobid`` clients poll). See :func:`store.submit`."""
        msid = self.pool.msid if self.pool else None
        job_id = run_in_transaction(
            self.engine,
            lambda c: store.submit(
                c,
                caller,
                cmd,
                params,
                instance_type=instance_type,
                instance_id=instance_id,
                sync_object=sync_object,
                job_uuid=job_uuid,
                init_msid=msid,
            ),
        )
        if self.pool is not None:
            self.pool.notify()
        return job_id

    def submit_job(
        self,
        caller: Caller,
        command: str,
        params: Mapping[str, Any],
        instance_type: str | None,
        instance_id: str | None,
        *,
        job_uuid: str | None = None,
    ) -> str:
        """The ``ApiBackend.submit_job`` shape of :meth:`submit` (sync object ``<type>:<id>``)."""
        return self.submit(
            caller, command, dict(params), instance_type=instance_type, instance_id=instance_id, job_uuid=job_uuid
        )

    def query(self, caller: Caller, job_uuid: str) -> JobView:
        """``queryAsyncJobResult`` (431 unknown id, 531 not visible)."""
        return run_in_transaction(self.engine, lambda c: store.query(c, caller, job_uuid))

    def list(
        self,
        caller: Caller,
        *,
        account_name: str | None = None,
        domain_uuid: str | None = None,
        start_date: datetime | None = None,
        keyword: str | None = None,
        page: int | None = None,
        pagesize: int | None = None,
    ) -> tuple[int, list[JobView]]:
        """``listAsyncJobs``: (total count, one page) of the jobs ``caller`` may see, newest first."""
        return run_in_transaction(
            self.engine,
            lambda c: store.list_jobs(
                c,
                caller,
                account_name=account_name,
                domain_uuid=domain_uuid,
                start_date=start_date,
                keyword=keyword,
                page=page,
                pagesize=pagesize,
            ),
        )
