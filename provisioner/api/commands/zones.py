"""Zones: ``createZone``, ``updateZone``, ``listZones`` (with ``showcapacities``), ``deleteZone``.

Fields and JSON types follow ``apache/cloudstack-go`` ``ZoneService.go``. Every role may list zones (users see
the Enabled ones); the rest is root-admin only.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import (
    EVERYONE,
    ROOT_ONLY,
    CapacityResponse,
    call,
    listing,
    one,
)
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import zones


class ZoneResponse(ResponseModel):
    """A zone (``ZoneResponse``)."""

    id: str = Field(description="Zone id")
    name: str = Field(description="Zone name")
    description: str | None = Field(default=None, description="Zone description")
    dns1: str | None = Field(default=None, description="the first DNS for the Zone")
    dns2: str | None = Field(default=None, description="the second DNS for the Zone")
    ip6dns1: str | None = Field(default=None, description="the first IPv6 DNS for the Zone")
    ip6dns2: str | None = Field(default=None, description="the second IPv6 DNS for the Zone")
    internaldns1: str | None = Field(default=None, description="the first internal DNS for the Zone")
    internaldns2: str | None = Field(default=None, description="the second internal DNS for the Zone")
    guestcidraddress: str | None = Field(default=None, description="the guest CIDR address for the Zone")
    networktype: str = Field(description="the network type of the zone; can be Basic or Advanced")
    domain: str | None = Field(default=None, description="Network domain name for the networks in the zone")
    allocationstate: str = Field(description="the allocation state of the cluster")
    localstorageenabled: bool = Field(description="true if local storage offering enabled, false otherwise")
    securitygroupsenabled: bool = Field(description="true if security groups support is enabled, false otherwise")
    dhcpprovider: str | None = Field(default=None, description="the dhcp Provider for the Zone")
    zonetoken: str | None = Field(default=None, description="Zone Token")
    created: CsDateTime | None = Field(default=None, description="the date this zone was created")
    tags: list[TagResponse] | None = Field(default=None, description="the list of resource tags associated")
    capacity: list[CapacityResponse] | None = Field(default=None, description="the capacity of the Zone")


class CreateZoneParams(BaseParams):
    """Parameters of ``createZone``."""

    name: str = param("the name of the Zone", required=True)
    networktype: str = param("network type of the zone, can be Basic or Advanced", required=True)
    dns1: str = param("the first DNS for the Zone", required=True)
    internaldns1: str = param("the first internal DNS for the Zone", required=True)
    dns2: str | None = param("the second DNS for the Zone")
    internaldns2: str | None = param("the second internal DNS for the Zone")
    ip6dns1: str | None = param("the first DNS for IPv6 network in the Zone")
    ip6dns2: str | None = param("the second DNS for IPv6 network in the Zone")
    guestcidraddress: str | None = param("the guest CIDR address for the Zone")
    domain: str | None = param("Network domain name for the networks in the zone")
    localstorageenabled: bool | None = param("true if local storage offering enabled, false otherwise")
    securitygroupenabled: bool | None = param("true if network is security group enabled, false otherwise")
    allocationstate: str | None = param("Allocation state of this Zone for allocation of new resources")
    description: str | None = param("the description of the zone", since="4.20.0")


@api_command(
    "createZone",
    params=CreateZoneParams,
    response=ZoneResponse,
    response_key="zone",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a Zone.",
)
def create_zone(ctx: CommandContext, params: CreateZoneParams) -> ZoneResponse:
    """Create a zone; it starts Disabled unless ``allocationstate`` says otherwise."""
    return one(
        ctx,
        ZoneResponse,
        zones.create_zone,
        name=params.name,
        networktype=params.networktype,
        dns1=params.dns1,
        internaldns1=params.internaldns1,
        dns2=params.dns2,
        internaldns2=params.internaldns2,
        ip6dns1=params.ip6dns1,
        ip6dns2=params.ip6dns2,
        guestcidraddress=params.guestcidraddress,
        domain=params.domain,
        localstorageenabled=bool(params.localstorageenabled),
        securitygroupenabled=bool(params.securitygroupenabled),
        allocationstate=params.allocationstate,
        description=params.description,
    )


class UpdateZoneParams(BaseParams):
    """Parameters of ``updateZone``."""

    id: str = param("the ID of the Zone", required=True, entity="Zone")
    name: str | None = param("the name of the Zone")
    dns1: str | None = param("the first DNS for the Zone")
    dns2: str | None = param("the second DNS for the Zone")
    ip6dns1: str | None = param("the first DNS for IPv6 network in the Zone")
    ip6dns2: str | None = param("the second DNS for IPv6 network in the Zone")
    internaldns1: str | None = param("the first internal DNS for the Zone")
    internaldns2: str | None = param("the second internal DNS for the Zone")
    guestcidraddress: str | None = param("the guest CIDR address for the Zone")
    domain: str | None = param("Network domain name for the networks in the zone; empty string will update it to NULL")
    allocationstate: str | None = param("Allocation state of this cluster for allocation of new resources")
    localstorageenabled: bool | None = param("true if local storage offering enabled, false otherwise")
    dhcpprovider: str | None = param("the dhcp Provider for the Zone")
    description: str | None = param("the description of the zone", since="4.20.0")


@api_command(
    "updateZone",
    params=UpdateZoneParams,
    response=ZoneResponse,
    response_key="zone",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates a Zone.",
)
def update_zone(ctx: CommandContext, params: UpdateZoneParams) -> ZoneResponse:
    """Change a zone; ``allocationstate=Enabled`` opens it for deployments."""
    changes = params.model_dump(exclude={"id"}, exclude_none=True)
    return one(ctx, ZoneResponse, zones.update_zone, params.id, **changes)


class ListZonesParams(BaseListParams):
    """Parameters of ``listZones``."""

    id: str | None = param("the ID of the zone", entity="Zone")
    ids: list[str] | None = param("the IDs of the zones, mutually exclusive with id", entity="Zone", since="4.19.0")
    name: str | None = param("the name of the zone", since="4.3.0")
    available: bool | None = param(
        "true if you want to retrieve all available Zones. False if you only want to return the Zones"
        " from which you have at least one VM. Default is false."
    )
    networktype: str | None = param("the network type of the zone that the virtual machine belongs to")
    showcapacities: bool | None = param("flag to display the capacity of the zones")
    domainid: str | None = param("the ID of the domain associated with the zone", entity="Domain")


@api_command(
    "listZones",
    params=ListZonesParams,
    response=ZoneResponse,
    response_key="zone",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists zones",
    related="createZone,updateZone",
)
def list_zones(ctx: CommandContext, params: ListZonesParams) -> ListResult[ZoneResponse]:
    """List zones; users see the Enabled ones, root admins may ask for their capacities."""
    return listing(
        ctx,
        ZoneResponse,
        zones.list_zones,
        id=params.id,
        ids=params.ids,
        name=params.name,
        keyword=params.keyword,
        networktype=params.networktype,
        available=params.available,
        showcapacities=bool(params.showcapacities),
    )


class DeleteZoneParams(BaseParams):
    """Parameters of ``deleteZone``."""

    id: str = param("the ID of the Zone", required=True, entity="Zone")


@api_command(
    "deleteZone",
    params=DeleteZoneParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a Zone.",
)
def delete_zone(ctx: CommandContext, params: DeleteZoneParams) -> None:
    """Delete an empty zone (536 while pods, hosts, networks or storage remain)."""
    call(ctx, zones.delete_zone, params.id)
