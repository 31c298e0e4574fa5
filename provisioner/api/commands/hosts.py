"""Hosts: ``addHost`` (a one-element ``host[]`` list), ``listHosts``, ``updateHost``, ``deleteHost``,
``prepareHostForMaintenance``, ``cancelHostMaintenance`` and ``reconnectHost`` (the last three async).

Fields and JSON types follow ``apache/cloudstack-go`` ``HostService.go``: CPU percentages are strings
(``"12.5%"``), memory figures are byte counts.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, first, one, read
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel, format_date
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.compute.operations import service as vm_operations
from provisioner.services.infrastructure import host_states, hosts


class HostResponse(ResponseModel):
    """A host (``HostResponse``)."""

    id: str = Field(description="the ID of the host")
    name: str = Field(description="the name of the host")
    type: str = Field(description="the host type")
    state: str = Field(description="the state of the host")
    resourcestate: str = Field(description="the resource state of the host")
    hypervisor: str = Field(description="the host hypervisor")
    hypervisorversion: str | None = Field(default=None, description="the hypervisor version")
    ipaddress: str | None = Field(default=None, description="the IP address of the host")
    arch: str | None = Field(default=None, description="CPU Arch of the host")
    cpusockets: int | None = Field(default=None, description="the number of CPU sockets on the host")
    cpunumber: int = Field(description="the CPU number of the host")
    cpuspeed: int = Field(description="the CPU speed of the host")
    cpuallocated: str = Field(description="the amount of the host's CPU currently allocated")
    cpuallocatedvalue: int = Field(description="the amount of the host's CPU currently allocated in MHz")
    cpuallocatedpercentage: str = Field(description="the amount of the host's CPU currently allocated in percentage")
    cpuallocatedwithoverprovisioning: str = Field(
        description="the amount of the host's CPU after applying the cpu.overprovisioning.factor"
    )
    cpuused: str = Field(description="the amount of the host's CPU currently used")
    cpuwithoverprovisioning: str = Field(description="the amount of the host's CPU after applying overprovisioning")
    memorytotal: int = Field(
        description="the memory total of the host, this parameter is deprecated use memorywithoverprovisioning"
    )
    memoryallocated: int = Field(description="the amount of the host's memory currently allocated")
    memoryallocatedbytes: int = Field(description="the amount of the host's memory currently allocated in bytes")
    memoryallocatedpercentage: str = Field(
        description="the amount of the host's memory currently allocated in percentage"
    )
    memoryused: int = Field(description="the amount of the host's memory currently used")
    memorywithoverprovisioning: str = Field(
        description="the amount of the host's memory after applying overprovisioning"
    )
    hosttags: str | None = Field(default=None, description="comma-separated list of tags for the host")
    capabilities: str | None = Field(default=None, description="capabilities of the host")
    lastpinged: CsDateTime | None = Field(default=None, description="the date and time the host was last pinged")
    disconnected: CsDateTime | None = Field(default=None, description="true if the host is disconnected")
    managementserverid: str | None = Field(default=None, description="the management server ID of the host")
    clusterid: str | None = Field(default=None, description="the cluster ID of the host")
    clustername: str | None = Field(default=None, description="the cluster name of the host")
    clustertype: str | None = Field(default=None, description="the cluster type of the cluster that host belongs to")
    podid: str | None = Field(default=None, description="the Pod ID of the host")
    podname: str | None = Field(default=None, description="the Pod name of the host")
    zoneid: str = Field(description="the Zone ID of the host")
    zonename: str = Field(description="the Zone name of the host")
    islocalstorageactive: bool = Field(description="true if local storage is active, false otherwise")
    haenable: bool = Field(description="true if the host is HA enabled")
    created: CsDateTime | None = Field(default=None, description="the date and time the host was created")
    events: str | None = Field(default=None, description="events available for the host")
    jobid: str | None = Field(
        default=None, description="the ID of the latest async job acting on this object (while it runs)"
    )
    jobstatus: int | None = Field(default=None, description="the current status of the latest async job on this object")


class AddHostParams(BaseParams):
    """Parameters of ``addHost``."""

    url: str = param("the host URL", required=True)
    podid: str = param("the Pod ID for the host", required=True, entity="Pod")
    zoneid: str = param("the Zone ID for the host", required=True, entity="Zone")
    hypervisor: str = param("hypervisor type of the host", required=True)
    clusterid: str | None = param("the cluster ID for the host", entity="Cluster")
    clustername: str | None = param("the cluster name for the host")
    username: str | None = param("the username for the host; required to be passed for hypervisors other than VMWare")
    password: str | None = param("the password for the host; required to be passed for hypervisors other than VMWare")
    passwordref: str | None = param(
        "where the host password lives instead of the password: env:NAME, file:/path or vault:NAME (provisioner)"
    )
    hosttags: list[str] | None = param("list of tags to be added to the host")
    allocationstate: str | None = param("Allocation state of this Host for allocation of new resources")


@api_command(
    "addHost",
    params=AddHostParams,
    response=HostResponse,
    response_key="host",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Adds a new host.",
)
def add_host(ctx: CommandContext, params: AddHostParams) -> list[HostResponse]:
    """Connect a host through the compute driver registry; simulator hosts come Up at once."""
    backend = backend_of(ctx)
    return first(
        ctx,
        HostResponse,
        hosts.add_host,
        zoneid=params.zoneid,
        podid=params.podid,
        url=params.url,
        hypervisor=params.hypervisor,
        clusterid=params.clusterid,
        clustername=params.clustername,
        username=params.username,
        password=params.password,
        password_ref=params.passwordref,
        hosttags=params.hosttags,
        allocationstate=params.allocationstate,
        box=backend.identity.box,
        msid=backend.jobs.pool.msid if backend.jobs.pool is not None else None,
    )


class ListHostsParams(BaseListParams):
    """Parameters of ``listHosts``."""

    id: str | None = param("the id of the host", entity="Host")
    ids: list[str] | None = param("the ids of the hosts", entity="Host", since="4.19.0")
    name: str | None = param("the name of the host")
    type: str | None = param("the host type")
    state: str | None = param("the state of the host")
    resourcestate: str | None = param("list hosts by resource state")
    zoneid: str | None = param("the Zone ID for the host", entity="Zone")
    podid: str | None = param("the Pod ID for the host", entity="Pod")
    clusterid: str | None = param("lists hosts existing in particular cluster", entity="Cluster")
    hypervisor: str | None = param("hypervisor type of host: XenServer,KVM,VMware,Hyperv,BareMetal,Simulator")
    hosttags: str | None = param("lists hosts with the given host tags", since="4.18.0")
    details: list[str] | None = param(
        "comma separated list of host details requested, value can be a list of [ min, all, capacity, events, stats]"
    )


@api_command(
    "listHosts",
    params=ListHostsParams,
    response=HostResponse,
    response_key="host",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists hosts.",
)
def list_hosts(ctx: CommandContext, params: ListHostsParams) -> ListResult[dict[str, Any]]:
    """List hosts; every detail is always present (it costs nothing extra), so ``details`` selects nothing."""
    page, pagesize = page_numbers(ctx.page)
    rows, total = read(
        ctx,
        hosts.list_hosts,
        page=page,
        pagesize=pagesize,
        id=params.id,
        ids=params.ids,
        name=params.name,
        keyword=params.keyword,
        type=params.type,
        state=params.state,
        resourcestate=params.resourcestate,
        zoneid=params.zoneid,
        podid=params.podid,
        clusterid=params.clusterid,
        hypervisor=params.hypervisor,
        hosttags=params.hosttags,
    )
    return ListResult([wire_host(row) for row in rows], total)


def wire_host(row: dict[str, Any]) -> dict[str, Any]:
    """A host row as :class:`HostResponse` dumps it, built directly (no per-field validation of a 500-row page).

    The service builds every field with its wire type (dates as wire text, formatted in SQL) and leaves
    ``None`` fields out; a date still a datetime is formatted here, in place. ``tests/unit/services/infrastructure``
    checks the result equals the model's dump.
    """
    for key in _DATES:
        value = row.get(key)
        if value is not None and not isinstance(value, str):  # the listing's SQL formats them already
            row[key] = format_date(value)
    return row


_DATES = ("lastpinged", "disconnected", "created")


class UpdateHostParams(BaseParams):
    """Parameters of ``updateHost``."""

    id: str = param("the ID of the host to update", required=True, entity="Host")
    allocationstate: str | None = param("Change resource state of host, valid values are [Enable, Disable]")
    hosttags: list[str] | None = param("list of tags to be added to the host")
    name: str | None = param("the new name of the host", since="4.19.0")


@api_command(
    "updateHost",
    params=UpdateHostParams,
    response=HostResponse,
    response_key="host",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates a host.",
)
def update_host(ctx: CommandContext, params: UpdateHostParams) -> HostResponse:
    """Enable or disable a host, change its tags or name."""
    return one(
        ctx,
        HostResponse,
        hosts.update_host,
        params.id,
        allocationstate=params.allocationstate,
        hosttags=params.hosttags,
        name=params.name,
    )


class HostIdParams(BaseParams):
    """The parameters of the host state commands: the host's id."""

    id: str = param("the host ID", required=True, entity="Host")


@api_command(
    "prepareHostForMaintenance",
    params=HostIdParams,
    response=HostResponse,
    response_key="host",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type="Host",
    description="Prepares a host for maintenance.",
)
def prepare_host_for_maintenance(ctx: CommandContext, params: HostIdParams) -> HostResponse:
    """Enabled → PrepareForMaintenance → its Running VMs migrate away → Maintenance (else a 530 naming them)."""
    row = vm_operations.prepare_host_for_maintenance(backend_of(ctx).engine, ctx.caller, params.id)
    return HostResponse.model_validate(row)


@api_command(
    "cancelHostMaintenance",
    params=HostIdParams,
    response=HostResponse,
    response_key="host",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type="Host",
    description="Cancels host maintenance.",
)
def cancel_host_maintenance(ctx: CommandContext, params: HostIdParams) -> HostResponse:
    """Maintenance → Enabled."""
    return one(ctx, HostResponse, host_states.cancel_host_maintenance, params.id)


@api_command(
    "reconnectHost",
    params=HostIdParams,
    response=HostResponse,
    response_key="host",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type="Host",
    description="Reconnects a host.",
)
def reconnect_host(ctx: CommandContext, params: HostIdParams) -> HostResponse:
    """Connect to the host again: Up on success, Alert (and a 530) when it does not answer."""
    return one(ctx, HostResponse, host_states.reconnect_host, params.id)


class DeleteHostParams(BaseParams):
    """Parameters of ``deleteHost``."""

    id: str = param("the host ID", required=True, entity="Host")
    forced: bool | None = param("Force delete the host. All HA enabled vms running on the host will be put to HA")
    forcedestroylocalstorage: bool | None = param("Force destroy local storage on this host")


@api_command(
    "deleteHost",
    params=DeleteHostParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a host.",
)
def delete_host(ctx: CommandContext, params: DeleteHostParams) -> None:
    """Remove a host in maintenance (any host with ``forced``); its local pools go with it."""
    call(ctx, hosts.delete_host, params.id, forced=bool(params.forced))
