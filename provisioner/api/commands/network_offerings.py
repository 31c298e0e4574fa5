"""Network offerings: ``listNetworkOfferings`` (every role), ``createNetworkOffering``, ``updateNetworkOffering``,
``deleteNetworkOffering`` (root admin)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import network_offerings


class ServiceProviderEntry(ResponseModel):
    """A provider of one service of the offering."""

    name: str = Field(description="the service provider name")


class OfferingServiceResponse(ResponseModel):
    """A service the offering provides (``ServiceResponse``)."""

    name: str = Field(description="the service name")
    provider: list[ServiceProviderEntry] = Field(description="the service provider name")


class NetworkOfferingResponse(ResponseModel):
    """A network offering (``NetworkOfferingResponse``)."""

    id: str = Field(description="the id of the network offering")
    name: str = Field(description="the name of the network offering")
    displaytext: str = Field(description="an alternate display text of the network offering.")
    guestiptype: str = Field(description="guest type of the network offering, can be Shared or Isolated")
    traffictype: str = Field(
        description=(
            "the traffic type for the network offering, supported types are Public, Management, "
            "Control, Guest, Vlan or Storage."
        )
    )
    availability: str = Field(description="availability of the network offering")
    state: str = Field(description="state of the network offering. Can be Disabled/Enabled/Inactive")
    isdefault: bool = Field(description="true if network offering is default, false otherwise")
    specifyvlan: bool = Field(description="true if network offering supports vlans, false otherwise")
    specifyipranges: bool = Field(description="true if network offering supports specifying ip ranges, false otherwise")
    conservemode: bool = Field(description="true if network offering is ip conserve mode enabled")
    egressdefaultpolicy: bool = Field(
        description="true if guest network default egress policy is allow; false if default egress policy is deny"
    )
    forvpc: bool = Field(description="true if network offering can be used by VPC networks only")
    ispersistent: bool = Field(description="true if network offering supports persistent networks")
    networkrate: int | None = Field(default=None, description="data transfer rate in megabits per second allowed.")
    tags: str | None = Field(default=None, description="the tags for the network offering")
    service: list[OfferingServiceResponse] = Field(description="the list of supported services")
    created: CsDateTime | None = Field(default=None, description="the date this network offering was created")


class ListNetworkOfferingsParams(BaseListParams):
    """Parameters of ``listNetworkOfferings``."""

    id: str | None = param("list network offerings by ID", entity="NetworkOffering")
    name: str | None = param("list network offerings by name")
    guestiptype: str | None = param("list network offerings by guest type: shared or isolated")
    availability: str | None = param("the availability of network offering. Default value is required")
    state: str | None = param("list network offerings by state")
    isdefault: bool | None = param("true if need to list only default network offerings. Default value is false")
    specifyvlan: bool | None = param("the tags for the network offering.")
    forvpc: bool | None = param("the network offering can be used only for network creation inside the VPC")
    zoneid: str | None = param("list network offerings available for network creation in specific zone", entity="Zone")
    traffictype: str | None = param("list by traffic type")


@api_command(
    "listNetworkOfferings",
    params=ListNetworkOfferingsParams,
    response=NetworkOfferingResponse,
    response_key="networkoffering",
    list=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Lists all available network offerings.",
)
def list_network_offerings(
    ctx: CommandContext, params: ListNetworkOfferingsParams
) -> ListResult[NetworkOfferingResponse]:
    """List network offerings (system offerings never); every offering serves every zone."""
    return listing(
        ctx,
        NetworkOfferingResponse,
        network_offerings.list_network_offerings,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        guestiptype=params.guestiptype,
        availability=params.availability,
        state=params.state,
        isdefault=params.isdefault,
        specifyvlan=params.specifyvlan,
        forvpc=params.forvpc,
    )


class CreateNetworkOfferingParams(BaseParams):
    """Parameters of ``createNetworkOffering``."""

    name: str = param("the name of the network offering", required=True)
    displaytext: str | None = param("the display text of the network offering, defaults to the value of 'name'.")
    guestiptype: str = param("guest type of the network offering: Shared or Isolated", required=True)
    traffictype: str | None = param(
        "the traffic type for the network offering. Supported type in current release is GUEST only"
    )
    supportedservices: list[str] | None = param("services supported by the network offering")
    serviceproviderlist: list[dict[str, str]] | None = param(
        "provider to service mapping. If not specified, the provider for the service will be mapped "
        "to the default provider on the physical network"
    )
    availability: str | None = param("the availability of network offering. The default value is Optional")
    specifyvlan: bool | None = param("true if network offering supports vlans")
    specifyipranges: bool | None = param(
        "true if network offering supports specifying ip ranges; defaulted to false if not specified"
    )
    conservemode: bool | None = param("true if the network offering is IP conserve mode enabled")
    egressdefaultpolicy: bool | None = param(
        "true if guest network default egress policy is allow; false if default egress policy is deny"
    )
    forvpc: bool | None = param("true if network offering is meant to be used for VPC, false otherwise.")
    ispersistent: bool | None = param(
        "true if network offering supports persistent networks; defaulted to false if not specified"
    )
    networkrate: int | None = param("data transfer rate in megabits per second allowed")
    tags: str | None = param("the tags for the network offering.", length=4096)


@api_command(
    "createNetworkOffering",
    params=CreateNetworkOfferingParams,
    response=NetworkOfferingResponse,
    response_key="networkoffering",
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Creates a network offering.",
)
def create_network_offering(ctx: CommandContext, params: CreateNetworkOfferingParams) -> NetworkOfferingResponse:
    """Create a network offering; it starts Disabled, as in CloudStack."""
    return one(
        ctx,
        NetworkOfferingResponse,
        network_offerings.create_network_offering,
        name=params.name,
        displaytext=params.displaytext or params.name,
        guestiptype=params.guestiptype,
        traffictype=params.traffictype or "Guest",
        supportedservices=params.supportedservices,
        serviceproviderlist=params.serviceproviderlist,
        availability=params.availability or "Optional",
        specifyvlan=bool(params.specifyvlan),
        specifyipranges=bool(params.specifyipranges),
        conservemode=True if params.conservemode is None else params.conservemode,
        egressdefaultpolicy=bool(params.egressdefaultpolicy),
        forvpc=bool(params.forvpc),
        ispersistent=bool(params.ispersistent),
        networkrate=params.networkrate,
        tags=params.tags,
    )


class UpdateNetworkOfferingParams(BaseParams):
    """Parameters of ``updateNetworkOffering``."""

    id: str = param("the id of the network offering", required=True, entity="NetworkOffering")
    name: str | None = param("the name of the network offering")
    displaytext: str | None = param("the display text of the network offering")
    state: str | None = param("update state for the network offering")
    availability: str | None = param(
        "the availability of network offering. The value is Required makes this network offering "
        "default for Guest Virtual Networks. Only one network offering can have the value Required"
    )


@api_command(
    "updateNetworkOffering",
    params=UpdateNetworkOfferingParams,
    response=NetworkOfferingResponse,
    response_key="networkoffering",
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Updates a network offering.",
)
def update_network_offering(ctx: CommandContext, params: UpdateNetworkOfferingParams) -> NetworkOfferingResponse:
    """Rename, enable / disable or change the availability of an offering."""
    changes = params.model_dump(exclude={"id"}, exclude_none=True)
    return one(ctx, NetworkOfferingResponse, network_offerings.update_network_offering, params.id, **changes)


class DeleteNetworkOfferingParams(BaseParams):
    """Parameters of ``deleteNetworkOffering``."""

    id: str = param("the ID of the network offering", required=True, entity="NetworkOffering")


@api_command(
    "deleteNetworkOffering",
    params=DeleteNetworkOfferingParams,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Deletes a network offering.",
)
def delete_network_offering(ctx: CommandContext, params: DeleteNetworkOfferingParams) -> None:
    """Remove an offering (the default ones stay)."""
    call(ctx, network_offerings.delete_network_offering, params.id)
