"""Primary storage: ``createStoragePool``, ``updateStoragePool``, ``listStoragePools``, ``deleteStoragePool``,
``enableStorageMaintenance`` / ``cancelStorageMaintenance`` (async) and ``listStorageProviders``.

The two maintenance commands answer in ``<command>response`` envelopes (§3.1: Libcloud and ``cs`` need the
command's own name), while ``listApis`` names the legacy ``s_name`` objects in their descriptions.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, call, details_map, listing, one, page_of, read
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.compute.operations import service as vm_operations
from provisioner.services.infrastructure import storage_pools, storage_stats


class StoragePoolResponse(ResponseModel):
    """A primary storage pool (``StoragePoolResponse``)."""

    id: str = Field(description="the ID of the storage pool")
    name: str = Field(description="the name of the storage pool")
    zoneid: str = Field(description="the Zone ID of the storage pool")
    zonename: str = Field(description="the Zone name of the storage pool")
    podid: str | None = Field(default=None, description="the Pod ID of the storage pool")
    podname: str | None = Field(default=None, description="the Pod name of the storage pool")
    clusterid: str | None = Field(default=None, description="the ID of the cluster for the storage pool")
    clustername: str | None = Field(default=None, description="the name of the cluster for the storage pool")
    type: str = Field(description="the storage pool type")
    scope: str = Field(description="the scope of the storage pool")
    state: str = Field(description="the state of the storage pool")
    path: str | None = Field(default=None, description="the storage pool path")
    ipaddress: str | None = Field(default=None, description="the IP address of the storage pool")
    disksizetotal: int = Field(description="the total disk size of the storage pool")
    disksizeallocated: int = Field(description="the host's currently allocated disk size")
    disksizeused: int = Field(description="the host's currently used disk size")
    capacityiops: int | None = Field(default=None, description="IOPS CloudStack can provision from this storage pool")
    overprovisionfactor: str = Field(description="the overprovisionfactor for the storage pool")
    tags: str | None = Field(default=None, description="the tags for the storage pool")
    istagarule: bool = Field(description="whether the storage pool tags are a rule or not")
    provider: str | None = Field(default=None, description="Storage provider for this pool")
    hypervisor: str | None = Field(default=None, description="the hypervisor type of the storage pool")
    managed: bool = Field(description="whether this pool is managed or not")
    created: CsDateTime | None = Field(default=None, description="the date and time the storage pool was created")


class CreateStoragePoolParams(BaseParams):
    """Parameters of ``createStoragePool``."""

    name: str = param("the name for the storage pool", required=True)
    url: str = param("the URL of the storage pool", required=True, length=2048)
    zoneid: str = param("the Zone ID for the storage pool", required=True, entity="Zone")
    podid: str | None = param("the Pod ID for the storage pool", entity="Pod")
    clusterid: str | None = param("the cluster ID for the storage pool", entity="Cluster")
    hostid: str | None = param("the host ID for local storage", entity="Host")
    scope: str | None = param("the scope of the storage: cluster or zone")
    hypervisor: str | None = param("hypervisor type of the hosts in zone that will be attached to this storage pool")
    provider: str | None = param("the storage provider name")
    managed: bool | None = param("whether the storage should be managed by CloudStack")
    capacitybytes: int | None = param("bytes CloudStack can provision from this storage pool", type="long")
    capacityiops: int | None = param("IOPS CloudStack can provision from this storage pool", type="long")
    tags: list[str] | None = param("the tags for the storage pool")
    details: list[dict[str, str]] | None = param("the details for the storage pool")


@api_command(
    "createStoragePool",
    params=CreateStoragePoolParams,
    response=StoragePoolResponse,
    response_key="storagepool",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a storage pool.",
)
def create_storage_pool(ctx: CommandContext, params: CreateStoragePoolParams) -> StoragePoolResponse:
    """Add primary storage at cluster, zone or host scope; simulated zones report 1 TiB without contact.

    The pool's total and used bytes are then read from its storage (NFS, iSCSI), with no transaction open.
    """
    created = call(
        ctx,
        storage_pools.create_storage_pool,
        zoneid=params.zoneid,
        name=params.name,
        url=params.url,
        podid=params.podid,
        clusterid=params.clusterid,
        hostid=params.hostid,
        scope=params.scope,
        hypervisor=params.hypervisor,
        provider=params.provider,
        managed=bool(params.managed),
        capacitybytes=params.capacitybytes,
        capacityiops=params.capacityiops,
        tags=params.tags,
        details=details_map(params.details),
    )
    storage_stats.refresh_pools(backend_of(ctx).engine, [created["id"]])
    rows, _total = read(ctx, storage_pools.list_storage_pools, id=created["id"])
    return StoragePoolResponse.model_validate(rows[0])


class UpdateStoragePoolParams(BaseParams):
    """Parameters of ``updateStoragePool``."""

    id: str = param("the Id of the storage pool", required=True, entity="StoragePool")
    name: str | None = param("Change the name of the storage pool", since="4.15")
    tags: list[str] | None = param("comma-separated list of tags for the storage pool")
    capacitybytes: int | None = param("bytes CloudStack can provision from this storage pool", type="long")
    capacityiops: int | None = param("IOPS CloudStack can provision from this storage pool", type="long")
    enabled: bool | None = param("false to disable the pool for allocation of new volumes, true to enable it back")


@api_command(
    "updateStoragePool",
    params=UpdateStoragePoolParams,
    response=StoragePoolResponse,
    response_key="storagepool",
    since="3.0.0",
    authorized=ROOT_ONLY,
    description="Updates a storage pool.",
)
def update_storage_pool(ctx: CommandContext, params: UpdateStoragePoolParams) -> StoragePoolResponse:
    """Rename a pool, change its tags or capacity, or disable / enable it."""
    return one(
        ctx,
        StoragePoolResponse,
        storage_pools.update_storage_pool,
        params.id,
        name=params.name,
        tags=params.tags,
        capacitybytes=params.capacitybytes,
        capacityiops=params.capacityiops,
        enabled=params.enabled,
    )


class ListStoragePoolsParams(BaseListParams):
    """Parameters of ``listStoragePools``."""

    id: str | None = param("the ID of the storage pool", entity="StoragePool")
    name: str | None = param("the name of the storage pool")
    zoneid: str | None = param("the Zone ID for the storage pool", entity="Zone")
    podid: str | None = param("the Pod ID for the storage pool", entity="Pod")
    clusterid: str | None = param("list storage pools belongig to the specific cluster", entity="Cluster")
    hostid: str | None = param("host ID of the storage pools", entity="Host", since="4.19.0")
    scope: str | None = param("the scope of the storage pool", since="4.19.0")
    status: str | None = param("the status of the storage pool", since="4.19.0")
    path: str | None = param("the storage pool path")
    ipaddress: str | None = param("the IP address for the storage pool")
    storagepooltags: str | None = param("the tags of the storage pools", since="4.21.0")


@api_command(
    "listStoragePools",
    params=ListStoragePoolsParams,
    response=StoragePoolResponse,
    response_key="storagepool",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists storage pools.",
)
def list_storage_pools(ctx: CommandContext, params: ListStoragePoolsParams) -> ListResult[StoragePoolResponse]:
    """List primary storage."""
    return listing(
        ctx,
        StoragePoolResponse,
        storage_pools.list_storage_pools,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        podid=params.podid,
        clusterid=params.clusterid,
        hostid=params.hostid,
        scope=params.scope,
        status=params.status,
        path=params.path,
        ipaddress=params.ipaddress,
        storagepooltags=params.storagepooltags,
    )


class DeleteStoragePoolParams(BaseParams):
    """Parameters of ``deleteStoragePool``."""

    id: str = param("Storage pool id", required=True, entity="StoragePool")
    forced: bool | None = param(
        "Force destroy storage pool (force expunge volumes in Destroyed state as a part of pool removal)"
    )


@api_command(
    "deleteStoragePool",
    params=DeleteStoragePoolParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a storage pool.",
)
def delete_storage_pool(ctx: CommandContext, params: DeleteStoragePoolParams) -> None:
    """Remove a pool no volume uses (any pool with ``forced``)."""
    call(ctx, storage_pools.delete_storage_pool, params.id, forced=bool(params.forced))


class StoragePoolIdParams(BaseParams):
    """Parameters of the storage maintenance commands."""

    id: str = param("Primary storage ID", required=True, entity="StoragePool")


@api_command(
    "enableStorageMaintenance",
    params=StoragePoolIdParams,
    response=StoragePoolResponse,
    response_key="storagepool",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type="StoragePool",
    description="Puts storage pool into maintenance state (legacy object name prepareprimarystorageformaintenance)",
)
def enable_storage_maintenance(ctx: CommandContext, params: StoragePoolIdParams) -> StoragePoolResponse:
    """Up → PrepareForMaintenance → the VMs using it stop → Maintenance (else ErrorInMaintenance and a 530)."""
    row = vm_operations.enable_storage_maintenance(backend_of(ctx).engine, ctx.caller, params.id)
    return StoragePoolResponse.model_validate(row)


@api_command(
    "cancelStorageMaintenance",
    params=StoragePoolIdParams,
    response=StoragePoolResponse,
    response_key="storagepool",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type="StoragePool",
    description="Cancels maintenance for primary storage (legacy object name cancelprimarystoragemaintenance)",
)
def cancel_storage_maintenance(ctx: CommandContext, params: StoragePoolIdParams) -> StoragePoolResponse:
    """Maintenance → Up."""
    return one(ctx, StoragePoolResponse, storage_pools.cancel_storage_maintenance, params.id)


class StorageProviderResponse(ResponseModel):
    """A storage provider (``StorageProviderResponse``)."""

    name: str = Field(description="the name of the storage provider")
    type: str = Field(description="the type of the storage provider: primary or image provider")


class ListStorageProvidersParams(BaseListParams):
    """Parameters of ``listStorageProviders``."""

    type: str = param("the type of storage provider: either primary or image", required=True)


@api_command(
    "listStorageProviders",
    params=ListStorageProvidersParams,
    response=StorageProviderResponse,
    response_key="dataStoreProvider",
    list=True,
    since="4.2.0",
    authorized=ROOT_ONLY,
    description="Lists storage providers.",
)
def list_storage_providers(
    ctx: CommandContext, params: ListStorageProvidersParams
) -> ListResult[StorageProviderResponse]:
    """The providers of primary or image storage."""
    return page_of(ctx, StorageProviderResponse, storage_pools.list_storage_providers(params.type))
