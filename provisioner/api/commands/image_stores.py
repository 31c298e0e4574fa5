"""Secondary storage: ``addImageStore``, ``addSecondaryStorage`` (legacy NFS form), ``listImageStores``,
``deleteImageStore`` (root admin only; ``ImageStoreService.go`` fields)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, details_map, listing, read
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.infrastructure import image_stores, storage_stats
from provisioner.services.infrastructure.common import Row


class ImageStoreResponse(ResponseModel):
    """An image store (``ImageStoreResponse``)."""

    id: str = Field(description="the ID of the image store")
    name: str = Field(description="the name of the image store")
    url: str | None = Field(default=None, description="the url of the image store")
    protocol: str | None = Field(default=None, description="the protocol of the image store")
    providername: str = Field(description="the provider name of the image store")
    scope: str = Field(description="the scope of the image store")
    zoneid: str | None = Field(default=None, description="the Zone ID of the image store")
    zonename: str | None = Field(default=None, description="the Zone name of the image store")
    readonly: bool = Field(description="defines if store is read-only")
    disksizetotal: int | None = Field(default=None, description="the total disk size of the host")
    disksizeused: int | None = Field(default=None, description="the host's currently used disk size")
    created: CsDateTime | None = Field(default=None, description="the date and time the image store was created")


class AddImageStoreParams(BaseParams):
    """Parameters of ``addImageStore``."""

    provider: str = param("the image store provider name", required=True)
    name: str | None = param("the name for the image store")
    url: str | None = param("the URL for the image store", length=2048)
    zoneid: str | None = param("the Zone ID for the image store", entity="Zone")
    details: list[dict[str, str]] | None = param("the details for the image store. Example: details[0].key=accesskey")


@api_command(
    "addImageStore",
    params=AddImageStoreParams,
    response=ImageStoreResponse,
    response_key="imagestore",
    since="4.2.0",
    authorized=ROOT_ONLY,
    description="Adds backup image store.",
)
def add_image_store(ctx: CommandContext, params: AddImageStoreParams) -> ImageStoreResponse:
    """Add secondary storage: NFS and SMB need ``url`` and ``zoneid``; S3 and Swift are region-wide."""
    return _measured(
        ctx,
        image_stores.add_image_store,
        provider=params.provider,
        url=params.url,
        zoneid=params.zoneid,
        name=params.name,
        details=details_map(params.details),
    )


class AddSecondaryStorageParams(BaseParams):
    """Parameters of ``addSecondaryStorage``."""

    url: str = param("the URL for the secondary storage", required=True, length=2048)
    zoneid: str | None = param("the Zone ID for the secondary storage", entity="Zone")


@api_command(
    "addSecondaryStorage",
    params=AddSecondaryStorageParams,
    response=ImageStoreResponse,
    response_key="imagestore",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Adds secondary storage.",
)
def add_secondary_storage(ctx: CommandContext, params: AddSecondaryStorageParams) -> ImageStoreResponse:
    """The legacy NFS-only form of ``addImageStore``."""
    return _measured(ctx, image_stores.add_secondary_storage, url=params.url, zoneid=params.zoneid)


def _measured(ctx: CommandContext, add: Callable[..., Row], **params: Any) -> ImageStoreResponse:
    """Add the store, then read its total and used bytes from the storage, with no transaction open."""
    created = call(ctx, add, **params)
    storage_stats.refresh_stores(backend_of(ctx).engine, [created["id"]])
    rows, _total = read(ctx, image_stores.list_image_stores, id=created["id"])
    return ImageStoreResponse.model_validate(rows[0])


class ListImageStoresParams(BaseListParams):
    """Parameters of ``listImageStores``."""

    id: str | None = param("the ID of the storage pool", entity="ImageStore")
    name: str | None = param("the name of the image store")
    zoneid: str | None = param("the Zone ID for the image store", entity="Zone")
    provider: str | None = param("the image store provider")
    protocol: str | None = param("the image store protocol")
    readonly: bool | None = param("read-only status of the image store", since="4.15.0")


@api_command(
    "listImageStores",
    params=ListImageStoresParams,
    response=ImageStoreResponse,
    response_key="imagestore",
    list=True,
    since="4.2.0",
    authorized=ROOT_ONLY,
    description="Lists image stores.",
)
def list_image_stores(ctx: CommandContext, params: ListImageStoresParams) -> ListResult[ImageStoreResponse]:
    """List secondary storage."""
    return listing(
        ctx,
        ImageStoreResponse,
        image_stores.list_image_stores,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        provider=params.provider,
        protocol=params.protocol,
        readonly=params.readonly,
    )


class DeleteImageStoreParams(BaseParams):
    """Parameters of ``deleteImageStore``."""

    id: str = param("The image store ID or Secondary Storage ID.", required=True, entity="ImageStore")


@api_command(
    "deleteImageStore",
    params=DeleteImageStoreParams,
    since="4.2.0",
    authorized=ROOT_ONLY,
    description="Deletes an image store or Secondary Storage.",
)
def delete_image_store(ctx: CommandContext, params: DeleteImageStoreParams) -> None:
    """Remove a store that holds nothing (536 otherwise)."""
    call(ctx, image_stores.delete_image_store, params.id)
