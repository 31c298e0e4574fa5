"""Physical networks (create/update/delete async, list) and their traffic types (add/update/delete async, list)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import physical_networks


class PhysicalNetworkResponse(ResponseModel):
    """A physical network (``PhysicalNetworkResponse``); it starts Disabled."""

    id: str = Field(description="the uuid of the physical network")
    name: str = Field(description="name of the physical network")
    zoneid: str = Field(description="zone id of the physical network")
    zonename: str = Field(description="zone name of the physical network")
    state: str = Field(description="state of the physical network")
    vlan: str | None = Field(default=None, description="the vlan of the physical network")
    isolationmethods: str | None = Field(default=None, description="isolation methods")
    broadcastdomainrange: str | None = Field(default=None, description="Broadcast domain range of the physical network")
    tags: str | None = Field(default=None, description="comma separated tag")
    networkspeed: str | None = Field(default=None, description="the speed of the physical network")


class CreatePhysicalNetworkParams(BaseParams):
    """Parameters of ``createPhysicalNetwork``."""

    name: str = param("the name of the physical network", required=True)
    zoneid: str = param("the Zone ID for the physical network", required=True, entity="Zone")
    vlan: str | None = param("the VLAN for the physical network")
    isolationmethods: list[str] | None = param("the isolation method for the physical network[VLAN/L3/GRE]")
    broadcastdomainrange: str | None = param("the broadcast domain range for the physical network[Pod or Zone]")
    tags: list[str] | None = param("Tag the physical network")
    networkspeed: str | None = param("the speed for the physical network[1G/10G]")
    domainid: str | None = param("domain ID of the account owning a physical network", entity="Domain")


@api_command(
    "createPhysicalNetwork",
    params=CreatePhysicalNetworkParams,
    response=PhysicalNetworkResponse,
    response_key="physicalnetwork",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="PhysicalNetwork",
    description="Creates a physical network",
)
def create_physical_network(ctx: CommandContext, params: CreatePhysicalNetworkParams) -> PhysicalNetworkResponse:
    """Create a Disabled physical network with CloudStack's default providers."""
    return one(
        ctx,
        PhysicalNetworkResponse,
        physical_networks.create_physical_network,
        zoneid=params.zoneid,
        name=params.name,
        vlan=params.vlan,
        isolationmethods=params.isolationmethods,
        broadcastdomainrange=params.broadcastdomainrange,
        tags=params.tags,
        networkspeed=params.networkspeed,
    )


class UpdatePhysicalNetworkParams(BaseParams):
    """Parameters of ``updatePhysicalNetwork``."""

    id: str = param("physical network id", required=True, entity="PhysicalNetwork")
    state: str | None = param("Enabled/Disabled")
    vlan: str | None = param("the VLAN for the physical network")
    tags: list[str] | None = param("Tag the physical network")
    networkspeed: str | None = param("the speed for the physical network[1G/10G]")


@api_command(
    "updatePhysicalNetwork",
    params=UpdatePhysicalNetworkParams,
    response=PhysicalNetworkResponse,
    response_key="physicalnetwork",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="PhysicalNetwork",
    description="Updates a physical network",
)
def update_physical_network(ctx: CommandContext, params: UpdatePhysicalNetworkParams) -> PhysicalNetworkResponse:
    """Enable a physical network, change its VLAN ranges, tags or speed."""
    return one(
        ctx,
        PhysicalNetworkResponse,
        physical_networks.update_physical_network,
        params.id,
        state=params.state,
        vlan=params.vlan,
        tags=params.tags,
        networkspeed=params.networkspeed,
    )


class ListPhysicalNetworksParams(BaseListParams):
    """Parameters of ``listPhysicalNetworks``."""

    id: str | None = param("list physical network by id", entity="PhysicalNetwork")
    name: str | None = param("search by name")
    zoneid: str | None = param("the Zone ID for the physical network", entity="Zone")


@api_command(
    "listPhysicalNetworks",
    params=ListPhysicalNetworksParams,
    response=PhysicalNetworkResponse,
    response_key="physicalnetwork",
    list=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Lists physical networks",
)
def list_physical_networks(
    ctx: CommandContext, params: ListPhysicalNetworksParams
) -> ListResult[PhysicalNetworkResponse]:
    """List physical networks."""
    return listing(
        ctx,
        PhysicalNetworkResponse,
        physical_networks.list_physical_networks,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
    )


class DeletePhysicalNetworkParams(BaseParams):
    """Parameters of ``deletePhysicalNetwork``."""

    id: str = param("the ID of the Physical network", required=True, entity="PhysicalNetwork")


@api_command(
    "deletePhysicalNetwork",
    params=DeletePhysicalNetworkParams,
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="PhysicalNetwork",
    description="Deletes a Physical Network.",
)
def delete_physical_network(ctx: CommandContext, params: DeletePhysicalNetworkParams) -> None:
    """Delete a physical network with its traffic types and providers (536 while IP ranges use it)."""
    call(ctx, physical_networks.delete_physical_network, params.id)


# -- traffic types ----------------------------------------------------------------------------


class TrafficTypeResponse(ResponseModel):
    """A traffic type carried by a physical network (``TrafficTypeResponse``)."""

    id: str = Field(description="id of the network provider")
    traffictype: str = Field(description="the trafficType to be added to the physical network")
    physicalnetworkid: str = Field(description="the physical network this belongs to")
    kvmnetworklabel: str | None = Field(
        default=None,
        description="The network name label of the physical device dedicated to this traffic on a KVM host",
    )
    vmwarenetworklabel: str | None = Field(
        default=None,
        description="The network name label of the physical device dedicated to this traffic on a VMware host",
    )
    xennetworklabel: str | None = Field(
        default=None,
        description="The network name label of the physical device dedicated to this traffic on a XenServer host",
    )
    hypervnetworklabel: str | None = Field(
        default=None,
        description="The network name label of the physical device dedicated to this traffic on a HyperV host",
    )
    ovm3networklabel: str | None = Field(
        default=None, description="The network name of the physical device dedicated to this traffic on an OVM3 host"
    )
    isolationmethods: str | None = Field(default=None, description="isolation methods for the traffic type")
    vlan: str | None = Field(default=None, description="The VLAN id to be used for Management traffic by VMware host")


class TrafficLabelParams(BaseParams):
    """The per-hypervisor labels ``addTrafficType`` and ``updateTrafficType`` take."""

    kvmnetworklabel: str | None = param(
        "The network name label of the physical device dedicated to this traffic on a KVM host"
    )
    vmwarenetworklabel: str | None = param(
        "The network name label of the physical device dedicated to this traffic on a VMware host"
    )
    xennetworklabel: str | None = param(
        "The network name label of the physical device dedicated to this traffic on a XenServer host"
    )
    hypervnetworklabel: str | None = param(
        "The network name label of the physical device dedicated to this traffic on a Hyperv host"
    )
    ovm3networklabel: str | None = param(
        "The network name of the physical device dedicated to this traffic on an OVM3 host"
    )

    def labels(self) -> dict[str, str | None]:
        """The label parameters by name (None where not given)."""
        return {name: getattr(self, name) for name in TrafficLabelParams.model_fields}


class AddTrafficTypeParams(TrafficLabelParams):
    """Parameters of ``addTrafficType``."""

    physicalnetworkid: str = param("the Physical Network ID", required=True, entity="PhysicalNetwork")
    traffictype: str = param("the trafficType to be added to the physical network", required=True)
    isolationmethod: str | None = param(
        "Used if physical network has multiple isolation types and traffic type is public."
    )
    vlan: str | None = param("The VLAN id to be used for Management traffic by VMware host")


@api_command(
    "addTrafficType",
    params=AddTrafficTypeParams,
    response=TrafficTypeResponse,
    response_key="traffictype",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="TrafficType",
    description="Adds traffic type to a physical network",
)
def add_traffic_type(ctx: CommandContext, params: AddTrafficTypeParams) -> TrafficTypeResponse:
    """Carry Guest, Management, Public or Storage traffic on a physical network."""
    return one(
        ctx,
        TrafficTypeResponse,
        physical_networks.add_traffic_type,
        physicalnetworkid=params.physicalnetworkid,
        traffictype=params.traffictype,
        isolationmethod=params.isolationmethod,
        vlan=params.vlan,
        **params.labels(),
    )


class UpdateTrafficTypeParams(TrafficLabelParams):
    """Parameters of ``updateTrafficType``."""

    id: str = param("traffic type id", required=True, entity="TrafficType")


@api_command(
    "updateTrafficType",
    params=UpdateTrafficTypeParams,
    response=TrafficTypeResponse,
    response_key="traffictype",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="TrafficType",
    description="Updates traffic type of a physical network",
)
def update_traffic_type(ctx: CommandContext, params: UpdateTrafficTypeParams) -> TrafficTypeResponse:
    """Change the per-hypervisor labels of a traffic type."""
    return one(ctx, TrafficTypeResponse, physical_networks.update_traffic_type, params.id, **params.labels())


class DeleteTrafficTypeParams(BaseParams):
    """Parameters of ``deleteTrafficType``."""

    id: str = param("traffic type id", required=True, entity="TrafficType")


@api_command(
    "deleteTrafficType",
    params=DeleteTrafficTypeParams,
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="TrafficType",
    description="Deletes traffic type of a physical network",
)
def delete_traffic_type(ctx: CommandContext, params: DeleteTrafficTypeParams) -> None:
    """Stop carrying a traffic type."""
    call(ctx, physical_networks.delete_traffic_type, params.id)


class ListTrafficTypesParams(BaseListParams):
    """Parameters of ``listTrafficTypes``."""

    physicalnetworkid: str = param("the Physical Network ID", required=True, entity="PhysicalNetwork")


@api_command(
    "listTrafficTypes",
    params=ListTrafficTypesParams,
    response=TrafficTypeResponse,
    response_key="traffictype",
    list=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Lists traffic types of a given physical network.",
)
def list_traffic_types(ctx: CommandContext, params: ListTrafficTypesParams) -> ListResult[TrafficTypeResponse]:
    """The traffic types of one physical network; ``keyword`` names a traffic type."""
    return listing(
        ctx,
        TrafficTypeResponse,
        physical_networks.list_traffic_types,
        physicalnetworkid=params.physicalnetworkid,
        keyword=params.keyword,
    )
