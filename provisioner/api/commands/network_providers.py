"""Network service providers and virtual-router elements, the records the zone-build order switches on:
``listNetworkServiceProviders``, ``updateNetworkServiceProvider`` (async), ``listVirtualRouterElements``,
``configureVirtualRouterElement`` (async)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import providers


class NetworkServiceProviderResponse(ResponseModel):
    """A network service provider of a physical network (``ProviderResponse``)."""

    id: str = Field(description="uuid of the network provider")
    name: str = Field(description="the provider name")
    physicalnetworkid: str = Field(description="the physical network this belongs to")
    state: str = Field(description="state of the network provider")
    servicelist: list[str] = Field(description="services for this provider")
    destinationphysicalnetworkid: str | None = Field(default=None, description="the destination physical network")
    canenableindividualservice: bool = Field(description="true if individual services can be enabled/disabled")


class ListNetworkServiceProvidersParams(BaseListParams):
    """Parameters of ``listNetworkServiceProviders``."""

    physicalnetworkid: str | None = param("the Physical Network ID", entity="PhysicalNetwork")
    name: str | None = param("list providers by name")
    state: str | None = param("list providers by state")


@api_command(
    "listNetworkServiceProviders",
    params=ListNetworkServiceProvidersParams,
    response=NetworkServiceProviderResponse,
    response_key="networkserviceprovider",
    list=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Lists network serviceproviders for a given physical network.",
)
def list_network_service_providers(
    ctx: CommandContext, params: ListNetworkServiceProvidersParams
) -> ListResult[NetworkServiceProviderResponse]:
    """List providers, by physical network, name or state."""
    return listing(
        ctx,
        NetworkServiceProviderResponse,
        providers.list_network_service_providers,
        physicalnetworkid=params.physicalnetworkid,
        name=params.name,
        state=params.state,
        keyword=params.keyword,
    )


class UpdateNetworkServiceProviderParams(BaseParams):
    """Parameters of ``updateNetworkServiceProvider``."""

    id: str = param("network service provider id", required=True, entity="PhysicalNetworkServiceProvider")
    state: str | None = param("Enabled/Disabled/Shutdown the physical network service provider")
    servicelist: list[str] | None = param(
        "the list of services to be enabled for this physical network service provider"
    )


@api_command(
    "updateNetworkServiceProvider",
    params=UpdateNetworkServiceProviderParams,
    response=NetworkServiceProviderResponse,
    response_key="networkserviceprovider",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="PhysicalNetworkServiceProvider",
    description="Updates a network serviceProvider of a physical network",
)
def update_network_service_provider(
    ctx: CommandContext, params: UpdateNetworkServiceProviderParams
) -> NetworkServiceProviderResponse:
    """Enable, disable or shut down a provider (a virtual router one needs its element configured first)."""
    return one(
        ctx,
        NetworkServiceProviderResponse,
        providers.update_network_service_provider,
        params.id,
        state=params.state,
        servicelist=params.servicelist,
    )


class VirtualRouterElementResponse(ResponseModel):
    """A virtual router element (``VirtualRouterProviderResponse``)."""

    id: str = Field(description="the id of the router")
    nspid: str = Field(description="the physical network service provider id of the provider")
    enabled: bool = Field(description="Enabled/Disabled the service provider")
    account: str | None = Field(default=None, description="the account associated with the provider")


class ListVirtualRouterElementsParams(BaseListParams):
    """Parameters of ``listVirtualRouterElements``."""

    id: str | None = param("list virtual router elements by id", entity="VirtualRouterProvider")
    nspid: str | None = param(
        "list virtual router elements by network service provider id", entity="PhysicalNetworkServiceProvider"
    )
    enabled: bool | None = param("list network offerings by enabled state")


@api_command(
    "listVirtualRouterElements",
    params=ListVirtualRouterElementsParams,
    response=VirtualRouterElementResponse,
    response_key="virtualrouterelement",
    list=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Lists all available virtual router elements.",
)
def list_virtual_router_elements(
    ctx: CommandContext, params: ListVirtualRouterElementsParams
) -> ListResult[VirtualRouterElementResponse]:
    """List virtual router elements."""
    return listing(
        ctx,
        VirtualRouterElementResponse,
        providers.list_virtual_router_elements,
        id=params.id,
        nspid=params.nspid,
        enabled=params.enabled,
    )


class ConfigureVirtualRouterElementParams(BaseParams):
    """Parameters of ``configureVirtualRouterElement``."""

    id: str = param("the ID of the virtual router provider", required=True, entity="VirtualRouterProvider")
    enabled: bool = param("Enabled/Disabled the service provider", required=True)


@api_command(
    "configureVirtualRouterElement",
    params=ConfigureVirtualRouterElementParams,
    response=VirtualRouterElementResponse,
    response_key="virtualrouterelement",
    is_async=True,
    since="3.0.0",
    authorized=ROOT_ONLY,
    entity_type="VirtualRouterProvider",
    description="Configures a virtual router element.",
)
def configure_virtual_router_element(
    ctx: CommandContext, params: ConfigureVirtualRouterElementParams
) -> VirtualRouterElementResponse:
    """Enable or disable a virtual router element."""
    return one(
        ctx,
        VirtualRouterElementResponse,
        providers.configure_virtual_router_element,
        params.id,
        enabled=params.enabled,
    )
