"""Regions: ``listRegions`` (every role), ``addRegion``, ``updateRegion``, ``removeRegion``; integer ids."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import regions


class RegionResponse(ResponseModel):
    """A region (``RegionResponse``); ``id`` is a JSON number, 1 = the local region."""

    id: int = Field(description="the ID of the region")
    name: str = Field(description="the name of the region")
    endpoint: str | None = Field(default=None, description="the end point of the region")
    gslbserviceenabled: bool = Field(description="true if GSLB service is enabled in the region, false otherwise")
    portableipserviceenabled: bool = Field(description="true if security groups support is enabled, false otherwise")


class ListRegionsParams(BaseListParams):
    """Parameters of ``listRegions``."""

    id: int | None = param("List Region by region ID.")
    name: str | None = param("List Region by region name.")


@api_command(
    "listRegions",
    params=ListRegionsParams,
    response=RegionResponse,
    response_key="region",
    list=True,
    since="3.0.0",
    authorized=EVERYONE,
    description="Lists Regions",
)
def list_regions(ctx: CommandContext, params: ListRegionsParams) -> ListResult[RegionResponse]:
    """List regions."""
    return listing(ctx, RegionResponse, regions.list_regions, id=params.id, name=params.name, keyword=params.keyword)


class AddRegionParams(BaseParams):
    """Parameters of ``addRegion``."""

    id: int = param("Id of the Region", required=True)
    name: str = param("Name of the region", required=True)
    endpoint: str = param("Region service endpoint", required=True)


@api_command(
    "addRegion",
    params=AddRegionParams,
    response=RegionResponse,
    response_key="region",
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Adds a Region",
)
def add_region(ctx: CommandContext, params: AddRegionParams) -> RegionResponse:
    """Register a peer region."""
    return one(ctx, RegionResponse, regions.add_region, id=params.id, name=params.name, endpoint=params.endpoint)


class UpdateRegionParams(BaseParams):
    """Parameters of ``updateRegion``."""

    id: int = param("Id of region to update", required=True)
    name: str | None = param("updates region with this name")
    endpoint: str | None = param("updates region with this end point")


@api_command(
    "updateRegion",
    params=UpdateRegionParams,
    response=RegionResponse,
    response_key="region",
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Updates a region",
)
def update_region(ctx: CommandContext, params: UpdateRegionParams) -> RegionResponse:
    """Rename a region or change its endpoint."""
    return one(ctx, RegionResponse, regions.update_region, id=params.id, name=params.name, endpoint=params.endpoint)


class RemoveRegionParams(BaseParams):
    """Parameters of ``removeRegion``."""

    id: int = param("ID of the region to delete", required=True)


@api_command(
    "removeRegion",
    params=RemoveRegionParams,
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Removes specified region",
)
def remove_region(ctx: CommandContext, params: RemoveRegionParams) -> None:
    """Forget a peer region (the local one stays)."""
    call(ctx, regions.remove_region, id=params.id)
