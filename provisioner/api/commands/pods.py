"""Pods: ``createPod``, ``updatePod``, ``listPods``, ``deletePod`` (root admin only; ``PodService.go`` fields)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import pods


class PodIpRangeResponse(ResponseModel):
    """One management IP range of a pod (``PodResponse.ipranges``)."""

    startip: str = Field(description="the starting IP for the range")
    endip: str = Field(description="the ending IP for the range")
    gateway: str | None = Field(default=None, description="the gateway for the range")
    forsystemvms: str | None = Field(default=None, description="indicates if range is dedicated for CPVM and SSVM")
    vlanid: str | None = Field(default=None, description="indicates Vlan ID for the range")


class PodResponse(ResponseModel):
    """A pod (``PodResponse``); ``startip``/``endip`` are lists, one entry per range, as in 4.11+."""

    id: str = Field(description="the ID of the Pod")
    name: str = Field(description="the name of the Pod")
    zoneid: str = Field(description="the Zone ID of the Pod")
    zonename: str = Field(description="the Zone name of the Pod")
    gateway: str | None = Field(default=None, description="the gateway of the Pod")
    netmask: str | None = Field(default=None, description="the netmask of the Pod")
    startip: list[str] = Field(description="the starting IP for the Pod")
    endip: list[str] = Field(description="the ending IP for the Pod")
    forsystemvms: list[str] = Field(description="indicates if range is dedicated for CPVM and SSVM")
    vlanid: list[str] = Field(description="indicates Vlan ID for the range")
    ipranges: list[PodIpRangeResponse] = Field(description="the IP ranges for the Pod")
    allocationstate: str = Field(description="the allocation state of the Pod")
    created: CsDateTime | None = Field(default=None, description="the date the Pod was created")


class CreatePodParams(BaseParams):
    """Parameters of ``createPod``."""

    name: str = param("the name of the Pod", required=True)
    zoneid: str = param("the Zone ID in which the Pod will be created", required=True, entity="Zone")
    gateway: str | None = param("the gateway for the Pod")
    netmask: str | None = param("the netmask for the Pod")
    startip: str | None = param("the starting IP address for the Pod")
    endip: str | None = param("the ending IP address for the Pod")
    allocationstate: str | None = param("Allocation state of this Pod for allocation of new resources")


@api_command(
    "createPod",
    params=CreatePodParams,
    response=PodResponse,
    response_key="pod",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a new Pod.",
)
def create_pod(ctx: CommandContext, params: CreatePodParams) -> PodResponse:
    """Create a pod with its management IP range."""
    return one(ctx, PodResponse, pods.create_pod, **params.model_dump(exclude_none=True))


class UpdatePodParams(BaseParams):
    """Parameters of ``updatePod``."""

    id: str = param("the ID of the Pod", required=True, entity="Pod")
    name: str | None = param("the name of the Pod")
    gateway: str | None = param("the gateway for the Pod")
    netmask: str | None = param("the netmask of the Pod")
    startip: str | None = param("the starting IP address for the Pod")
    endip: str | None = param("the ending IP address for the Pod")
    allocationstate: str | None = param("Allocation state of this cluster for allocation of new resources")


@api_command(
    "updatePod",
    params=UpdatePodParams,
    response=PodResponse,
    response_key="pod",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates a Pod.",
)
def update_pod(ctx: CommandContext, params: UpdatePodParams) -> PodResponse:
    """Change a pod; range fields not given keep their values."""
    return one(ctx, PodResponse, pods.update_pod, params.id, **params.model_dump(exclude={"id"}, exclude_none=True))


class ListPodsParams(BaseListParams):
    """Parameters of ``listPods``."""

    id: str | None = param("list Pods by ID", entity="Pod")
    name: str | None = param("list Pods by name")
    zoneid: str | None = param("list Pods by Zone ID", entity="Zone")
    allocationstate: str | None = param("list pods by allocation state")


@api_command(
    "listPods",
    params=ListPodsParams,
    response=PodResponse,
    response_key="pod",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists all Pods.",
)
def list_pods(ctx: CommandContext, params: ListPodsParams) -> ListResult[PodResponse]:
    """List pods."""
    return listing(
        ctx,
        PodResponse,
        pods.list_pods,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        allocationstate=params.allocationstate,
    )


class DeletePodParams(BaseParams):
    """Parameters of ``deletePod``."""

    id: str = param("the ID of the Pod", required=True, entity="Pod")


@api_command(
    "deletePod",
    params=DeletePodParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a Pod.",
)
def delete_pod(ctx: CommandContext, params: DeletePodParams) -> None:
    """Delete an empty pod (536 while hosts, clusters, pools or ranges remain)."""
    call(ctx, pods.delete_pod, params.id)
