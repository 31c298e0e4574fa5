"""Job states, the job handed to an executor, and the §5 view of a job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from provisioner.services.principal import Caller

#: CloudStack's text for jobs whose management server died or stopped (``AsyncJobManagerImpl``).
RESTART_TEXT = "job cancelled because of management server restart or shutdown"


class JobStatus(IntEnum):
    """``JobInfo.Status``."""

    IN_PROGRESS = 0
    SUCCEEDED = 1
    FAILED = 2
    CANCELLED = 3


@dataclass(frozen=True, slots=True)
class RunningJob:
    """What an executor receives: the command, its parameters and who submitted it."""

    id: str
    cmd: str
    params: dict[str, Any]
    caller: Caller
    instance_type: str | None
    instance_id: str | None


@dataclass(frozen=True, slots=True)
class FailedJob:
    """What a reconciler receives: a job that was failed because its server went away."""

    id: str
    cmd: str
    params: dict[str, Any]
    instance_type: str | None
    instance_id: str | None
    owner_msid: int | None


def format_date(value: datetime | None) -> str | None:
    """CloudStack's wire date, ``yyyy-MM-dd'T'HH:mm:ssZ`` in UTC (``+0000``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000") if value is not None else None


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as ``queryAsyncJobResult`` / ``listAsyncJobs`` show it."""

    jobid: str
    cmd: str
    jobstatus: int
    jobresultcode: int
    jobresulttype: str | None
    jobresult: Any
    jobinstancetype: str | None
    jobinstanceid: str | None
    created: datetime
    completed: datetime | None
    userid: str
    accountid: str
    account: str
    domainid: str
    domain: str
    managementserverid: int | None = None

    def as_response(self) -> dict[str, Any]:
        """The §5 response object: ``jobresult``/``jobresulttype`` only once finished, dates as strings."""
        out: dict[str, Any] = {
            "accountid": self.accountid,
            "account": self.account,
            "domainid": self.domainid,
            "domain": self.domain,
            "userid": self.userid,
            "cmd": self.cmd,
            "jobstatus": self.jobstatus,
            "jobprocstatus": 0,
            "jobresultcode": self.jobresultcode,
            "jobid": self.jobid,
            "created": format_date(self.created),
        }
        if self.jobstatus != JobStatus.IN_PROGRESS:
            out["jobresulttype"] = self.jobresulttype or "object"
            out["jobresult"] = self.jobresult if self.jobresult is not None else {}
            out["completed"] = format_date(self.completed)
        if self.jobinstancetype:
            out["jobinstancetype"] = self.jobinstancetype
        if self.jobinstanceid:
            out["jobinstanceid"] = self.jobinstanceid
        return out
