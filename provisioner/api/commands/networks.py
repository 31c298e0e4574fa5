"""Guest networks: ``createNetwork``, ``listNetworks``, ``updateNetwork``, ``deleteNetwork``, ``restartNetwork``.

Every role may call them; shared networks and VLANs are for root admins (the service checks). Update, delete
and restart are async jobs, as in CloudStack. ``restartNetwork`` has no virtual router to restart yet: it
checks the network and succeeds.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, call, listing, one
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.networks import networks


class NetworkServiceProviderEntry(ResponseModel):
    """A provider of a network service."""

    name: str = Field(description="the service provider name")


class NetworkServiceEntry(ResponseModel):
    """A service the network's offering provides."""

    name: str = Field(description="the service name")
    provider: list[NetworkServiceProviderEntry] = Field(description="the service provider name")


class NetworkResponse(ResponseModel):
    """A guest network (``NetworkResponse``)."""

    id: str = Field(description="the id of the network")
    name: str = Field(description="the name of the network")
    displaytext: str = Field(description="the displaytext of the network")
    type: str = Field(description="the type of the network")
    traffictype: str = Field(description="the traffic type of the network")
    state: str = Field(description="state of the network")
    zoneid: str = Field(description="zone id of the network")
    zonename: str = Field(description="the name of the zone the network belongs to")
    cidr: str | None = Field(default=None, description="Cloudstack managed address space")
    gateway: str | None = Field(default=None, description="the network's gateway")
    netmask: str | None = Field(default=None, description="the network's netmask")
    dns1: str | None = Field(default=None, description="the first IPv4 DNS for the network")
    dns2: str | None = Field(default=None, description="the second IPv4 DNS for the network")
    networkdomain: str | None = Field(default=None, description="the network domain")
    networkofferingid: str | None = Field(default=None, description="network offering id the network is created from")
    networkofferingname: str | None = Field(default=None, description="name of the network offering")
    networkofferingdisplaytext: str | None = Field(default=None, description="display text of the network offering")
    networkofferingconservemode: bool | None = Field(
        default=None, description="true if network offering is ip conserve mode enabled"
    )
    networkofferingavailability: str | None = Field(default=None, description="availability of the network offering")
    specifyipranges: bool = Field(description="true if network supports specifying ip ranges")
    ispersistent: bool = Field(description="list networks that are persistent")
    egressdefaultpolicy: bool = Field(description="true if guest network default egress policy is allow")
    physicalnetworkid: str | None = Field(default=None, description="the physical network id")
    broadcastdomaintype: str = Field(description="Broadcast domain type of the network")
    broadcasturi: str | None = Field(default=None, description="broadcast uri of the network (admin only)")
    vlan: str | None = Field(default=None, description="The vlan of the network (admin only)")
    acltype: str = Field(description="acl type - access type to the network")
    subdomainaccess: bool | None = Field(
        default=None, description="true if users from subdomains can access the domain level network"
    )
    account: str | None = Field(default=None, description="the owner of the network")
    domainid: str | None = Field(default=None, description="the domain id of the network owner")
    domain: str | None = Field(default=None, description="the domain name of the network owner")
    domainpath: str | None = Field(default=None, description="path of the Domain the network belongs to")
    isdefault: bool = Field(description="true if network is default, false otherwise")
    issystem: bool = Field(description="true if network is system, false otherwise")
    restartrequired: bool = Field(description="true network requires restart")
    canusefordeploy: bool = Field(description="list networks available for vm deployment")
    displaynetwork: bool = Field(
        description="an optional field, whether to the display the network to the end user or not."
    )
    redundantrouter: bool = Field(description="If the network has redundant routers enabled")
    service: list[NetworkServiceEntry] = Field(description="the list of services")
    tags: list[TagResponse] = Field(description="the list of resource tags associated with network")
    created: CsDateTime | None = Field(default=None, description="the date this network was created")


class CreateNetworkParams(BaseParams):
    """Parameters of ``createNetwork``."""

    name: str = param("the name of the network", required=True)
    displaytext: str | None = param("the display text of the network")
    networkofferingid: str = param("the network offering ID", required=True, entity="NetworkOffering")
    zoneid: str = param("the zone ID for the network", required=True, entity="Zone")
    physicalnetworkid: str | None = param("the physical network ID the network belongs to", entity="PhysicalNetwork")
    gateway: str | None = param("the gateway of the network. Required for shared networks")
    netmask: str | None = param("the netmask of the network. Required for shared networks")
    startip: str | None = param("the beginning IP address in the network IP range")
    endip: str | None = param(
        "the ending IP address in the network IP range. If not specified, will be defaulted to startIP"
    )
    vlan: str | None = param("the ID or VID of the network")
    networkdomain: str | None = param("network domain")
    acltype: str | None = param("Access control type; supported values are account and domain.")
    account: str | None = param("account that will own the network")
    domainid: str | None = param("domain ID of the account owning a network", entity="Domain")
    subdomainaccess: bool | None = param(
        "Defines whether to allow subdomains to use networks dedicated to their parent domain(s)"
    )
    projectid: str | None = param("an optional project for the network", type="uuid")
    vpcid: str | None = param("the VPC network belongs to", type="uuid")
    displaynetwork: bool | None = param("an optional field, whether to the display the network to the end user or not.")


@api_command(
    "createNetwork",
    params=CreateNetworkParams,
    response=NetworkResponse,
    response_key="network",
    since="3.0.0",
    authorized=EVERYONE,
    description="Creates a network",
)
def create_network(ctx: CommandContext, params: CreateNetworkParams) -> NetworkResponse:
    """Create an isolated network (any role) or a shared one (root admin)."""
    return one(
        ctx,
        NetworkResponse,
        networks.create_network,
        networkofferingid=params.networkofferingid,
        zoneid=params.zoneid,
        name=params.name,
        displaytext=params.displaytext,
        gateway=params.gateway,
        netmask=params.netmask,
        startip=params.startip,
        endip=params.endip,
        vlan=params.vlan,
        account_name=params.account,
        domainid=params.domainid,
        acltype=params.acltype,
        networkdomain=params.networkdomain,
        physicalnetworkid=params.physicalnetworkid,
    )


class ListNetworksParams(ListDomainResourcesParams):
    """Parameters of ``listNetworks``."""

    id: str | None = param("list networks by ID", entity="Network")
    name: str | None = param("list networks by name", since="4.15.0")
    zoneid: str | None = param("the zone ID of the network", entity="Zone")
    type: str | None = param("the type of the network. Supported values are: isolated, l2, shared and all")
    isdefault: bool | None = param("true if network is default, false otherwise")
    issystem: bool | None = param("true if network is system, false otherwise")
    traffictype: str | None = param("type of the traffic")
    physicalnetworkid: str | None = param("list networks by physical network id", entity="PhysicalNetwork")
    acltype: str | None = param(
        "list networks by ACL (access control list) type. Supported values are account and domain"
    )
    restartrequired: bool | None = param("list networks by restartRequired")
    specifyipranges: bool | None = param("true if need to list only networks which support specifying IP ranges")
    vpcid: str | None = param("List networks by VPC", type="uuid")
    canusefordeploy: bool | None = param("list networks available for VM deployment")
    forvpc: bool | None = param("the network belongs to VPC")
    supportedservices: list[str] | None = param("list networks supporting certain services")
    networkofferingid: str | None = param("list networks by network offering ID", entity="NetworkOffering")
    displaynetwork: bool | None = param(
        "list resources by display flag; only ROOT admin is eligible to pass this parameter"
    )
    networkfilter: str | None = param(
        'possible values are "account", "domain", "accountdomain","shared", and "all". Default value is "all".'
    )
    projectid: str | None = param("list objects by project", type="uuid")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    showicon: bool | None = param("flag to display the resource icon for networks")
    retrieveonlyresourcecount: bool | None = param("Retrieve only the count of resources")


@api_command(
    "listNetworks",
    params=ListNetworksParams,
    response=NetworkResponse,
    response_key="network",
    list=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Lists all available networks.",
)
def list_networks(ctx: CommandContext, params: ListNetworksParams) -> ListResult[NetworkResponse]:
    """List the caller's networks and the shared networks it may use."""
    filters: dict[str, Any] = params.model_dump(
        exclude={"account", "page", "pagesize", "showicon", "retrieveonlyresourcecount"}
    )
    filters["listall"] = bool(params.listall)
    filters["isrecursive"] = bool(params.isrecursive)
    result = listing(ctx, NetworkResponse, networks.list_networks, account_name=params.account, **filters)
    return ListResult([], result.count) if params.retrieveonlyresourcecount else result


class UpdateNetworkParams(BaseParams):
    """Parameters of ``updateNetwork``."""

    id: str = param("the ID of the network", required=True, entity="Network")
    name: str | None = param("the new name for the network")
    displaytext: str | None = param("the new display text for the network")
    networkdomain: str | None = param("network domain")
    networkofferingid: str | None = param("network offering ID", entity="NetworkOffering")
    changecidr: bool | None = param("Force update even if CIDR type is different")
    guestvmcidr: str | None = param("CIDR for guest VMs, CloudStack allocates IPs to guest VMs only from this CIDR")
    displaynetwork: bool | None = param("an optional field, whether to the display the network to the end user or not.")
    forced: bool | None = param("Setting this to true will cause a forced network update")


@api_command(
    "updateNetwork",
    params=UpdateNetworkParams,
    response=NetworkResponse,
    response_key="network",
    is_async=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Updates a network",
    entity_type="Network",
)
def update_network(ctx: CommandContext, params: UpdateNetworkParams) -> NetworkResponse:
    """Rename a network, change its display text, network domain or offering."""
    return one(
        ctx,
        NetworkResponse,
        networks.update_network,
        params.id,
        name=params.name,
        displaytext=params.displaytext,
        networkdomain=params.networkdomain,
        networkofferingid=params.networkofferingid,
    )


class DeleteNetworkParams(BaseParams):
    """Parameters of ``deleteNetwork``."""

    id: str = param("the ID of the network", required=True, entity="Network")
    forced: bool | None = param(
        "Force delete a network. Network will be marked as 'Destroy' even when commands to shutdown and cleanup "
        "to the backend fails."
    )


@api_command(
    "deleteNetwork",
    params=DeleteNetworkParams,
    is_async=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Deletes a network",
    entity_type="Network",
)
def delete_network(ctx: CommandContext, params: DeleteNetworkParams) -> None:
    """Delete a network no VM uses."""
    call(ctx, networks.delete_network, params.id, forced=bool(params.forced))


class RestartNetworkParams(BaseParams):
    """Parameters of ``restartNetwork``."""

    id: str = param("The ID of the network to restart.", required=True, entity="Network")
    cleanup: bool | None = param("If cleanup old network elements")
    makeredundant: bool | None = param("Turn the network into a network with redundant routers.")
    livepatch: bool | None = param("Live patches the router software before restarting it.")


@api_command(
    "restartNetwork",
    params=RestartNetworkParams,
    is_async=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Restarts the network; includes 1) restarting network elements - virtual routers, DHCP servers 2) "
    "reapplying all public IPs 3) reapplying loadBalancing/portForwarding rules",
    entity_type="Network",
)
def restart_network(ctx: CommandContext, params: RestartNetworkParams) -> None:
    """Nothing to restart without virtual routers: checks the network and succeeds."""
    call(ctx, networks.restart_network, params.id, cleanup=bool(params.cleanup))
