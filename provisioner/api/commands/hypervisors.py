"""Hypervisors: ``listHypervisors`` (every role) and ``listHypervisorCapabilities`` (root admin)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, ROOT_ONLY, call, listing
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import hypervisors


class HypervisorResponse(ResponseModel):
    """A hypervisor type (``HypervisorResponse``)."""

    name: str = Field(description="Hypervisor name")


class ListHypervisorsParams(BaseParams):
    """Parameters of ``listHypervisors``."""

    zoneid: str | None = param("the zone id for listing hypervisors.", entity="Zone")


@api_command(
    "listHypervisors",
    params=ListHypervisorsParams,
    response=HypervisorResponse,
    response_key="hypervisor",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="List hypervisors",
)
def list_hypervisors(ctx: CommandContext, params: ListHypervisorsParams) -> list[HypervisorResponse]:
    """The hypervisors of a zone's clusters, or every supported one without ``zoneid``."""
    return [
        HypervisorResponse.model_validate(row) for row in call(ctx, hypervisors.list_hypervisors, zoneid=params.zoneid)
    ]


class HypervisorCapabilitiesResponse(ResponseModel):
    """What a hypervisor version supports (``HypervisorCapabilitiesResponse``)."""

    id: str = Field(description="the ID of the hypervisor capabilities row")
    hypervisor: str = Field(description="the hypervisor type")
    hypervisorversion: str = Field(description="the hypervisor version")
    maxguestslimit: int | None = Field(
        default=None, description="the maximum number of guest vms recommended for this hypervisor"
    )
    maxdatavolumeslimit: int | None = Field(
        default=None, description="the maximum number of Data Volumes that can be attached for this hypervisor"
    )
    maxhostspercluster: int | None = Field(
        default=None, description="the maximum number of Hosts per cluster for this hypervisor"
    )
    securitygroupenabled: bool = Field(description="true if security group is supported")
    storagemotionenabled: bool = Field(description="true if storage motion is supported")
    vmsnapshotenabled: bool = Field(description="true if VM snapshots are enabled for this hypervisor")


class ListHypervisorCapabilitiesParams(BaseListParams):
    """Parameters of ``listHypervisorCapabilities``."""

    id: str | None = param("ID of the hypervisor capability", type="uuid")
    hypervisor: str | None = param("the hypervisor for which to restrict the search")


@api_command(
    "listHypervisorCapabilities",
    params=ListHypervisorCapabilitiesParams,
    response=HypervisorCapabilitiesResponse,
    response_key="hypervisorCapabilities",
    list=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Lists all hypervisor capabilities.",
)
def list_hypervisor_capabilities(
    ctx: CommandContext, params: ListHypervisorCapabilitiesParams
) -> ListResult[HypervisorCapabilitiesResponse]:
    """List the capability rows of hypervisor versions."""
    return listing(
        ctx,
        HypervisorCapabilitiesResponse,
        hypervisors.list_hypervisor_capabilities,
        id=params.id,
        hypervisor=params.hypervisor,
    )
