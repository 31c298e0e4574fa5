"""Async jobs in the database: submit, a worker pool with leases, recovery and per-resource order.

The API layer builds one :class:`JobWorkerPool` with its executor and one :class:`JobService`;
other areas register reconcilers with :func:`register_reconciler`.
"""

from provisioner.services.jobs.models import RESTART_TEXT, FailedJob, JobStatus, JobView, RunningJob
from provisioner.services.jobs.recovery import Reconciler, default_msid, register_reconciler
from provisioner.services.jobs.service import JobService
from provisioner.services.jobs.worker import Executor, JobWorkerPool, PoolSettings

__all__ = [
    "RESTART_TEXT",
    "Executor",
    "FailedJob",
    "JobService",
    "JobStatus",
    "JobView",
    "JobWorkerPool",
    "PoolSettings",
    "Reconciler",
    "RunningJob",
    "default_msid",
    "register_reconciler",
]
