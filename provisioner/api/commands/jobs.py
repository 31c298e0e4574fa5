"""Async job commands: ``queryAsyncJobResult`` and ``listAsyncJobs`` (§5), over the backend's job methods."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel


class AsyncJobResponse(ResponseModel):
    """An async job; ``jobresult``, ``jobresulttype`` and ``completed`` appear once it has finished."""

    jobid: str = Field(description="extra field for the initial async job")
    accountid: str | None = Field(default=None, description="the account id that executed the async command")
    account: str | None = Field(default=None, description="the account that executed the async command")
    domainid: str | None = Field(default=None, description="the domain id that executed the async command")
    domain: str | None = Field(default=None, description="the domain that executed the async command")
    userid: str | None = Field(default=None, description="the user that executed the async command")
    cmd: str | None = Field(default=None, description="the async command executed")
    jobstatus: int = Field(description="the current job status-should be 0 for PENDING")
    jobprocstatus: int = Field(default=0, description="the progress information of the PENDING job")
    jobresultcode: int = Field(default=0, description="the result code for the job")
    jobresulttype: str | None = Field(default=None, description="the result type")
    jobresult: Any = Field(default=None, description="the result reason")
    jobinstancetype: str | None = Field(default=None, description="the instance/entity object related to the job")
    jobinstanceid: str | None = Field(default=None, description="the unique ID of the instance/entity object")
    created: str | None = Field(default=None, description="the created date of the job")
    completed: str | None = Field(default=None, description="the completed date of the job")
    managementserverid: int | None = Field(default=None, description="the msid of the management server")


class QueryAsyncJobResultParams(BaseParams):
    """Parameters of ``queryAsyncJobResult``."""

    jobid: str = param("the ID of the asynchronous job", required=True, type="uuid")


@api_command(
    "queryAsyncJobResult",
    params=QueryAsyncJobResultParams,
    response=AsyncJobResponse,
    since="1.0",
    description="Retrieves the current status of asynchronous job.",
    related="listAsyncJobs",
)
def query_async_job_result(ctx: CommandContext, params: QueryAsyncJobResultParams) -> AsyncJobResponse:
    """Report one job, flat in ``queryasyncjobresultresponse``."""
    return AsyncJobResponse.model_validate(dict(ctx.backend.query_job(ctx.caller, params.jobid)))


class ListAsyncJobsParams(ListDomainResourcesParams):
    """Parameters of ``listAsyncJobs``."""

    startdate: datetime | None = param("The start date of the async job (use format \"yyyy-MM-dd'T'HH:mm:ss'+'SSSS\")")


@api_command(
    "listAsyncJobs",
    params=ListAsyncJobsParams,
    response=AsyncJobResponse,
    response_key="asyncjobs",
    list=True,
    since="1.0",
    description="Lists all pending asynchronous jobs for the account.",
    related="queryAsyncJobResult",
)
def list_async_jobs(ctx: CommandContext, params: ListAsyncJobsParams) -> ListResult[AsyncJobResponse]:
    """List the jobs the caller may see, newest first."""
    total, rows = ctx.backend.list_jobs(
        ctx.caller,
        account=params.account,
        domain_id=params.domainid,
        start_date=params.startdate,
        keyword=params.keyword,
        page=ctx.page,
    )
    return ListResult([AsyncJobResponse.model_validate(dict(row)) for row in rows], total)
