"""VLAN/IP ranges: ``createVlanIpRange`` (answers ``vlan``), ``listVlanIpRanges`` (``vlaniprange[]``),
``deleteVlanIpRange``; root admin only."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.params import missing_parameter
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import vlan_ranges


class VlanIpRangeResponse(ResponseModel):
    """An IP range (``VlanIpRangeResponse``)."""

    id: str = Field(description="the ID of the VLAN IP range")
    forvirtualnetwork: bool = Field(description="the virtual network for the VLAN IP range")
    forsystemvms: bool = Field(description="indicates whether VLAN IP range is dedicated to system vms or not")
    zoneid: str = Field(description="the Zone ID of the VLAN IP range")
    podid: str | None = Field(default=None, description="the Pod ID for the VLAN IP range")
    podname: str | None = Field(default=None, description="the Pod name for the VLAN IP range")
    physicalnetworkid: str | None = Field(default=None, description="the physical network this belongs to")
    vlan: str = Field(description="the ID or VID of the VLAN.")
    gateway: str | None = Field(default=None, description="the gateway of the VLAN IP range")
    netmask: str | None = Field(default=None, description="the netmask of the VLAN IP range")
    startip: str | None = Field(default=None, description="the start ip of the VLAN IP range")
    endip: str | None = Field(default=None, description="the end ip of the VLAN IP range")
    ip6gateway: str | None = Field(default=None, description="the gateway of IPv6 network")
    ip6cidr: str | None = Field(default=None, description="the cidr of IPv6 network")
    description: str | None = Field(default=None, description="the description of the VLAN IP range")


class CreateVlanIpRangeParams(BaseParams):
    """Parameters of ``createVlanIpRange``."""

    zoneid: str | None = param("the Zone ID of the VLAN IP range", entity="Zone")
    podid: str | None = param("optional parameter. Have to be specified for Direct Untagged vlan only.", entity="Pod")
    physicalnetworkid: str | None = param("the physical network id", entity="PhysicalNetwork")
    gateway: str | None = param("the gateway of the VLAN IP range")
    netmask: str | None = param("the netmask of the VLAN IP range")
    startip: str | None = param("the beginning IP address in the VLAN IP range")
    endip: str | None = param("the ending IP address in the VLAN IP range")
    vlan: str | None = param(
        "the ID or VID of the VLAN. If not specified, will be defaulted to the vlan of the network "
        "or if vlan of the network is null - to Untagged"
    )
    forvirtualnetwork: bool | None = param("true if VLAN is of Virtual type, false if Direct")
    forsystemvms: bool | None = param("true if IP range is set to system vms, false if not", since="4.16.0")


@api_command(
    "createVlanIpRange",
    params=CreateVlanIpRangeParams,
    response=VlanIpRangeResponse,
    response_key="vlan",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a VLAN IP range.",
)
def create_vlan_ip_range(ctx: CommandContext, params: CreateVlanIpRangeParams) -> VlanIpRangeResponse:
    """Add a public (``forvirtualnetwork=true``) or pod range; IPv4 ranges need gateway, netmask and startip."""
    for name in ("gateway", "netmask", "startip"):
        if getattr(params, name) is None:
            raise missing_parameter(ctx.command, name)
    assert params.gateway is not None and params.netmask is not None and params.startip is not None
    return one(
        ctx,
        VlanIpRangeResponse,
        vlan_ranges.create_vlan_ip_range,
        zoneid=params.zoneid,
        podid=params.podid,
        physicalnetworkid=params.physicalnetworkid,
        gateway=params.gateway,
        netmask=params.netmask,
        startip=params.startip,
        endip=params.endip,
        vlan=params.vlan,
        forvirtualnetwork=params.forvirtualnetwork,
        forsystemvms=bool(params.forsystemvms),
    )


class ListVlanIpRangesParams(BaseListParams):
    """Parameters of ``listVlanIpRanges``."""

    id: str | None = param("the ID of the VLAN IP range", entity="Vlan")
    zoneid: str | None = param("the Zone ID of the VLAN IP range", entity="Zone")
    podid: str | None = param("the Pod ID of the VLAN IP range", entity="Pod")
    physicalnetworkid: str | None = param("physical network id of the VLAN IP range", entity="PhysicalNetwork")
    vlan: str | None = param('the ID or VID of the VLAN. Default is an "untagged" VLAN.')
    forvirtualnetwork: bool | None = param("true if VLAN is of Virtual type, false if Direct")


@api_command(
    "listVlanIpRanges",
    params=ListVlanIpRangesParams,
    response=VlanIpRangeResponse,
    response_key="vlaniprange",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists all VLAN IP ranges.",
)
def list_vlan_ip_ranges(ctx: CommandContext, params: ListVlanIpRangesParams) -> ListResult[VlanIpRangeResponse]:
    """List IP ranges; ``keyword`` matches the VLAN."""
    return listing(
        ctx,
        VlanIpRangeResponse,
        vlan_ranges.list_vlan_ip_ranges,
        id=params.id,
        keyword=params.keyword,
        zoneid=params.zoneid,
        podid=params.podid,
        physicalnetworkid=params.physicalnetworkid,
        vlan=params.vlan,
        forvirtualnetwork=params.forvirtualnetwork,
    )


class DeleteVlanIpRangeParams(BaseParams):
    """Parameters of ``deleteVlanIpRange``."""

    id: str = param("the id of the VLAN IP range", required=True, entity="Vlan")


@api_command(
    "deleteVlanIpRange",
    params=DeleteVlanIpRangeParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a VLAN IP range.",
)
def delete_vlan_ip_range(ctx: CommandContext, params: DeleteVlanIpRangeParams) -> None:
    """Remove an IP range."""
    call(ctx, vlan_ranges.delete_vlan_ip_range, params.id)
