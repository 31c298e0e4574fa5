"""Async jobs in the database: submit, a worker pool with leases, recovery and per-resource order.

Wiring on server start (after ``upgrade`` and ``IdentityService.seed``)::

    pool = JobWorkerPool(engine, lambda job: registry.execute_async(
        backend, settings, job.caller, job.cmd, job.params, instance_id=job.instance_id),
        msid=default_msid(port), settings=PoolSettings(workers=n))
    pool.start()                      # fails this node's leftovers from a previous run first
    jobs = JobService(engine, pool)   # submit_job / query / list
    ...
    pool.stop()                       # on SIGTERM: no new claims, running jobs get a timeout

Other areas register reconcilers with :func:`register_reconciler` (by ``instance_type``).
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
