"""Service offerings: ``createServiceOffering``, ``updateServiceOffering``, ``listServiceOfferings`` (every
role), ``deleteServiceOffering``. ``memory`` is in MiB and ``rootdisksize`` in GiB, as CloudStack sends them."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import service_offerings


class ServiceOfferingResponse(ResponseModel):
    """A service offering (``ServiceOfferingResponse``)."""

    id: str = Field(description="the id of the service offering")
    name: str = Field(description="the name of the service offering")
    displaytext: str = Field(description="an alternate display text of the service offering.")
    cpunumber: int | None = Field(default=None, description="the number of CPU")
    cpuspeed: int | None = Field(default=None, description="the clock rate CPU speed in Mhz")
    memory: int | None = Field(default=None, description="the memory in MB")
    storagetype: str = Field(description="the storage type for this service offering")
    provisioningtype: str = Field(description="provisioning type used to create volumes.")
    offerha: bool = Field(description="the ha support in the service offering")
    limitcpuuse: bool = Field(description="restrict the CPU usage to committed service offering")
    isvolatile: bool = Field(description="true if the vm needs to be volatile")
    hosttags: str | None = Field(default=None, description="the host tag for the service offering")
    storagetags: str | None = Field(default=None, description="the tags for the service offering")
    deploymentplanner: str | None = Field(default=None, description="deployment strategy used to deploy VM.")
    issystem: bool = Field(description="is this a system vm offering")
    systemvmtype: str | None = Field(default=None, description="is this a the systemvm type for system vm offering")
    iscustomized: bool = Field(description="is true if the offering is customized")
    rootdisksize: int | None = Field(default=None, description="Root disk size in GB")
    networkrate: int | None = Field(default=None, description="data transfer rate in megabits per second")
    defaultuse: bool = Field(description="is this a default system vm offering")
    state: str | None = Field(default=None, description="state of the service offering")
    created: CsDateTime | None = Field(default=None, description="the date this service offering was created")


class CreateServiceOfferingParams(BaseParams):
    """Parameters of ``createServiceOffering``."""

    name: str = param("the name of the service offering", required=True)
    displaytext: str | None = param("The display text of the service offering, defaults to 'name'.")
    cpunumber: int | None = param("the CPU number of the service offering")
    cpuspeed: int | None = param("the CPU speed of the service offering in MHz.")
    memory: int | None = param("the total memory of the service offering in MB")
    storagetype: str | None = param("the storage type of the service offering. Values are local and shared.")
    provisioningtype: str | None = param(
        "provisioning type used to create volumes. Valid values are thin, sparse, fat."
    )
    offerha: bool | None = param("the HA for the service offering")
    limitcpuuse: bool | None = param("restrict the CPU usage to committed service offering")
    isvolatile: bool | None = param(
        "true if the virtual machine needs to be volatile so that on every reboot of VM, original "
        "root disk is dettached then destroyed and a fresh root disk is created and attached to VM"
    )
    hosttags: str | None = param("the host tag for this service offering.")
    tags: str | None = param("the tags for this service offering.")
    deploymentplanner: str | None = param("The deployment planner heuristics used to deploy a VM of this offering.")
    issystem: bool | None = param("is this a system vm offering")
    systemvmtype: str | None = param(
        'the system VM type. Possible types are "domainrouter", "consoleproxy" and "secondarystoragevm".'
    )
    rootdisksize: int | None = param("the Root disk size in GB.", type="long", since="4.15")
    networkrate: int | None = param(
        "data transfer rate in megabits per second allowed. Supported only for non-System offering "
        'and system offerings having "domainrouter" systemvmtype'
    )
    customized: bool | None = param("Whether service offering size is custom or not", since="4.13")
    domainid: list[str] | None = param("the ID of the containing domain(s), null for public offerings", entity="Domain")


@api_command(
    "createServiceOffering",
    params=CreateServiceOfferingParams,
    response=ServiceOfferingResponse,
    response_key="serviceoffering",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a service offering.",
)
def create_service_offering(ctx: CommandContext, params: CreateServiceOfferingParams) -> ServiceOfferingResponse:
    """Create a service offering; without CPU and memory figures it is a customised one."""
    return one(
        ctx,
        ServiceOfferingResponse,
        service_offerings.create_service_offering,
        name=params.name,
        displaytext=params.displaytext,
        cpunumber=params.cpunumber,
        cpuspeed=params.cpuspeed,
        memory=params.memory,
        storagetype=params.storagetype or "shared",
        provisioningtype=params.provisioningtype or "thin",
        offerha=bool(params.offerha),
        limitcpuuse=bool(params.limitcpuuse),
        isvolatile=bool(params.isvolatile),
        hosttags=params.hosttags,
        tags=params.tags,
        deploymentplanner=params.deploymentplanner,
        issystem=bool(params.issystem),
        systemvmtype=params.systemvmtype,
        rootdisksize=params.rootdisksize,
        networkrate=params.networkrate,
    )


class UpdateServiceOfferingParams(BaseParams):
    """Parameters of ``updateServiceOffering``."""

    id: str = param("the ID of the service offering to be updated", required=True, entity="ServiceOffering")
    name: str | None = param("the name of the service offering to be updated")
    displaytext: str | None = param("the display text of the service offering to be updated")
    sortkey: int | None = param("sort key of the service offering, integer")
    hosttags: str | None = param("comma-separated list of host tags for the service offering.", since="4.16")
    storagetags: str | None = param("comma-separated list of tags for the service offering.", since="4.16")


@api_command(
    "updateServiceOffering",
    params=UpdateServiceOfferingParams,
    response=ServiceOfferingResponse,
    response_key="serviceoffering",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates a service offering.",
)
def update_service_offering(ctx: CommandContext, params: UpdateServiceOfferingParams) -> ServiceOfferingResponse:
    """Change an offering's names, order or tags."""
    changes = params.model_dump(exclude={"id"}, exclude_none=True)
    return one(ctx, ServiceOfferingResponse, service_offerings.update_service_offering, params.id, **changes)


class ListServiceOfferingsParams(BaseListParams):
    """Parameters of ``listServiceOfferings``."""

    id: str | None = param("ID of the service offering", entity="ServiceOffering")
    name: str | None = param("name of the service offering")
    issystem: bool | None = param("is this a system vm offering")
    systemvmtype: str | None = param(
        'the system VM type. Possible types are "consoleproxy", "secondarystoragevm" or "domainrouter".'
    )
    iscustomized: bool | None = param("is this a customized offering", since="4.19.0")
    domainid: str | None = param("the ID of the domain associated with the service offering", entity="Domain")
    zoneid: str | None = param("id of zone disk offering is associated with", entity="Zone", since="4.13")
    virtualmachineid: str | None = param(
        "the ID of the virtual machine. Pass this in if you want to see the available service "
        "offering that a virtual machine can be changed to."
    )
    isrecursive: bool | None = param(
        "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves."
    )
    listall: bool | None = param("If set to false, list only resources belonging to the command's caller")


@api_command(
    "listServiceOfferings",
    params=ListServiceOfferingsParams,
    response=ServiceOfferingResponse,
    response_key="serviceoffering",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists all available service offerings.",
)
def list_service_offerings(
    ctx: CommandContext, params: ListServiceOfferingsParams
) -> ListResult[ServiceOfferingResponse]:
    """List offerings (public ones: every zone and domain may use them); system ones for root admins only."""
    return listing(
        ctx,
        ServiceOfferingResponse,
        service_offerings.list_service_offerings,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        issystem=params.issystem,
        systemvmtype=params.systemvmtype,
        iscustomized=params.iscustomized,
    )


class DeleteServiceOfferingParams(BaseParams):
    """Parameters of ``deleteServiceOffering``."""

    id: str = param("the ID of the service offering", required=True, entity="ServiceOffering")


@api_command(
    "deleteServiceOffering",
    params=DeleteServiceOfferingParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a service offering.",
)
def delete_service_offering(ctx: CommandContext, params: DeleteServiceOfferingParams) -> None:
    """Remove an offering (the default system ones stay)."""
    call(ctx, service_offerings.delete_service_offering, params.id)
