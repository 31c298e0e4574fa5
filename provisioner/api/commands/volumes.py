"""Volumes: ``createVolume`` (async-create), ``attachVolume``, ``detachVolume``, ``resizeVolume`` (async),
``deleteVolume`` and ``listVolumes``.

Handlers only call :mod:`provisioner.services.volumes`; the storage placement fields (``storage``,
``storageid``, ``path``, pod and cluster) are filled for root admins only, as ``VolumeResponse`` does.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import call, listing
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command, create_step
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.volumes import lifecycle, migration, operations, records


class VolumeResponse(ResponseModel):
    """A volume (``VolumeResponse``)."""

    id: str = Field(description="ID of the disk volume")
    name: str = Field(description="name of the disk volume")
    zoneid: str = Field(description="ID of the availability zone")
    zonename: str = Field(description="name of the availability zone")
    type: str = Field(description="type of the disk volume (ROOT or DATADISK)")
    state: str = Field(description="the state of the disk volume")
    size: int = Field(description="size of the disk volume")
    virtualsize: int | None = Field(default=None, description="the bytes actually consumed on disk")
    provisioningtype: str | None = Field(default=None, description="provisioning type used to create volumes")
    storagetype: str | None = Field(default=None, description="shared or local storage")
    hypervisor: str | None = Field(default=None, description="Hypervisor the volume belongs to")
    deviceid: int | None = Field(default=None, description="the ID of the device on user vm the volume is attahed to")
    virtualmachineid: str | None = Field(default=None, description="id of the virtual machine")
    vmname: str | None = Field(default=None, description="name of the virtual machine")
    vmdisplayname: str | None = Field(default=None, description="display name of the virtual machine")
    vmstate: str | None = Field(default=None, description="state of the virtual machine")
    vmtype: str | None = Field(default=None, description="type of the virtual machine")
    diskofferingid: str | None = Field(default=None, description="ID of the disk offering")
    diskofferingname: str | None = Field(default=None, description="name of the disk offering")
    diskofferingdisplaytext: str | None = Field(default=None, description="the display text of the disk offering")
    storageid: str | None = Field(default=None, description="id of the primary storage hosting the disk volume")
    storage: str | None = Field(default=None, description="name of the primary storage hosting the disk volume")
    path: str | None = Field(default=None, description="the path of the volume")
    clusterid: str | None = Field(default=None, description="cluster id of the volume")
    clustername: str | None = Field(default=None, description="cluster name where the volume is allocated")
    podid: str | None = Field(default=None, description="pod id of the volume")
    podname: str | None = Field(default=None, description="pod name of the volume")
    account: str | None = Field(default=None, description="the account associated with the disk volume")
    domainid: str | None = Field(default=None, description="the ID of the domain associated with the disk volume")
    domain: str | None = Field(default=None, description="the domain associated with the disk volume")
    domainpath: str | None = Field(default=None, description="path of the Domain the disk volume belongs to")
    created: CsDateTime | None = Field(default=None, description="the date the disk volume was created")
    attached: CsDateTime | None = Field(default=None, description="the date the volume was attached to a VM instance")
    destroyed: bool = Field(description="the boolean state of whether the volume is destroyed or not")
    isextractable: bool = Field(description="true if the volume is extractable, false otherwise")
    displayvolume: bool = Field(description="an optional field whether to the display the volume to the end user")
    quiescevm: bool = Field(description="need quiesce vm or not when taking snapshot")
    supportsstoragesnapshot: bool = Field(description="true if storage snapshot is supported for the volume")
    format: str | None = Field(default=None, description="the format of the disk volume")
    tags: list[TagResponse] = Field(default_factory=list, description="the list of resource tags")


def _engine_call(ctx: CommandContext, function: Any, *args: Any, **kwargs: Any) -> VolumeResponse:
    """Run an engine-level volume operation and validate the volume it returns."""
    return VolumeResponse.model_validate(function(backend_of(ctx).engine, ctx.caller, *args, **kwargs))


class CreateVolumeParams(BaseParams):
    """Parameters of ``createVolume``."""

    name: str | None = param("the name of the disk volume")
    zoneid: str | None = param("the ID of the availability zone", entity="Zone")
    diskofferingid: str | None = param(
        "the ID of the disk offering. Either diskOfferingId or snapshotId must be passed in.", entity="DiskOffering"
    )
    size: int | None = param("Arbitrary volume size (GB)", type="long")
    snapshotid: str | None = param("the snapshot ID for the disk volume", type="uuid")
    virtualmachineid: str | None = param(
        "the ID of the virtual machine; to attach the volume right after creation", type="uuid"
    )
    account: str | None = param("the account associated with the disk volume; must be used with domainId")
    domainid: str | None = param("the domain ID associated with the disk offering", entity="Domain")
    projectid: str | None = param("the project associated with the volume")
    displayvolume: bool | None = param("an optional field, whether to display the volume to the end user or not")
    miniops: int | None = param("min iops", type="long")
    maxiops: int | None = param("max iops", type="long")


@api_command(
    "createVolume",
    params=CreateVolumeParams,
    response=VolumeResponse,
    response_key="volume",
    is_async=True,
    create=True,
    since="1.0",
    entity_type="Volume",
    description="Creates a disk volume from a disk offering. This disk volume must still be attached to a virtual "
    "machine to make use of it.",
)
def create_volume(ctx: CommandContext, params: CreateVolumeParams) -> VolumeResponse:
    """Put a volume made from a snapshot on primary storage, and attach it when a VM was named."""
    assert ctx.entity_id is not None
    return _engine_call(
        ctx, operations.create_volume, ctx.entity_id, snapshot_uuid=params.snapshotid, vm_uuid=params.virtualmachineid
    )


@create_step("createVolume")
def create_volume_row(ctx: CommandContext, params: CreateVolumeParams) -> str:
    """The Allocated volume, so its id is known before the job runs."""
    created = call(
        ctx,
        lifecycle.create_volume_row,
        name=params.name,
        zoneid=params.zoneid,
        diskofferingid=params.diskofferingid,
        size=params.size,
        snapshotid=params.snapshotid,
        account_name=params.account,
        domainid=params.domainid,
    )
    return str(created.uuid)


class AttachVolumeParams(BaseParams):
    """Parameters of ``attachVolume``."""

    id: str = param("the ID of the disk volume", required=True, type="uuid")
    virtualmachineid: str = param("the ID of the virtual machine", required=True, type="uuid")
    deviceid: int | None = param("The ID of the device to map the volume to the guest OS.", type="long")


@api_command(
    "attachVolume",
    params=AttachVolumeParams,
    response=VolumeResponse,
    response_key="volume",
    is_async=True,
    since="1.0",
    entity_type="Volume",
    description="Attaches a disk volume to a virtual machine.",
)
def attach_volume(ctx: CommandContext, params: AttachVolumeParams) -> VolumeResponse:
    """Attach (creating the disk on first use, hot-plugging into a running VM)."""
    return _engine_call(ctx, operations.attach_volume, params.id, params.virtualmachineid, params.deviceid)


class DetachVolumeParams(BaseParams):
    """Parameters of ``detachVolume``."""

    id: str | None = param("the ID of the disk volume", type="uuid")
    virtualmachineid: str | None = param("the ID of the virtual machine where the volume is detached from", type="uuid")
    deviceid: int | None = param("the device ID on the virtual machine where volume is detached from", type="long")


@api_command(
    "detachVolume",
    params=DetachVolumeParams,
    response=VolumeResponse,
    response_key="volume",
    is_async=True,
    since="1.0",
    entity_type="Volume",
    description="Detaches a disk volume from a virtual machine.",
)
def detach_volume(ctx: CommandContext, params: DetachVolumeParams) -> VolumeResponse:
    """Detach (hot-unplug from a running VM)."""
    return _engine_call(
        ctx, operations.detach_volume, params.id, vm_uuid=params.virtualmachineid, device_id=params.deviceid
    )


class ResizeVolumeParams(BaseParams):
    """Parameters of ``resizeVolume``."""

    id: str = param("the ID of the disk volume", required=True, type="uuid")
    size: int | None = param("New volume size in GB", type="long")
    diskofferingid: str | None = param("new disk offering id", entity="DiskOffering")
    shrinkok: bool | None = param("Verify OK to Shrink")
    miniops: int | None = param("New minimum number of IOPS", type="long")
    maxiops: int | None = param("New maximum number of IOPS", type="long")


@api_command(
    "resizeVolume",
    params=ResizeVolumeParams,
    response=VolumeResponse,
    response_key="volume",
    is_async=True,
    since="4.2.0",
    entity_type="Volume",
    description="Resizes a volume",
)
def resize_volume(ctx: CommandContext, params: ResizeVolumeParams) -> VolumeResponse:
    """Grow (or, with shrinkok, shrink) a volume; its pool reservation follows."""
    return _engine_call(
        ctx,
        operations.resize_volume,
        params.id,
        size=params.size,
        diskofferingid=params.diskofferingid,
        shrinkok=bool(params.shrinkok),
    )


class DeleteVolumeParams(BaseParams):
    """Parameters of ``deleteVolume``."""

    id: str = param("The ID of the disk volume", required=True, type="uuid")


@api_command("deleteVolume", params=DeleteVolumeParams, since="1.0", description="Deletes a detached disk volume.")
def delete_volume(ctx: CommandContext, params: DeleteVolumeParams) -> None:
    """Delete a detached volume and its disk; its pool reservation is released."""
    operations.delete_volume(backend_of(ctx).engine, ctx.caller, params.id)


class ListVolumesParams(ListDomainResourcesParams):
    """Parameters of ``listVolumes``."""

    id: str | None = param("the ID of the disk volume", type="uuid")
    ids: list[str] | None = param("the IDs of the volumes, mutually exclusive with id", since="4.9")
    name: str | None = param("the name of the disk volume")
    virtualmachineid: str | None = param("the ID of the virtual machine", type="uuid")
    type: str | None = param("the type of disk volume")
    zoneid: str | None = param("the ID of the availability zone", entity="Zone")
    podid: str | None = param("the pod id the disk volume belongs to", entity="Pod")
    clusterid: str | None = param("the cluster id the disk volume belongs to", entity="Cluster")
    hostid: str | None = param("list volumes on specified host", entity="Host")
    storageid: str | None = param("the ID of the storage pool, available to ROOT admin only", since="4.3")
    diskofferingid: str | None = param("list volumes by disk offering", entity="DiskOffering", since="4.4")
    state: str | None = param("state of the volume. Possible values are: Ready, Allocated, Destroy, Expunging, ...")
    displayvolume: bool | None = param("list resources by display flag; only ROOT admin is eligible to pass this")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    projectid: str | None = param("list objects by project")


@api_command(
    "listVolumes",
    params=ListVolumesParams,
    response=VolumeResponse,
    response_key="volume",
    list=True,
    since="1.0",
    description="Lists all volumes.",
)
def list_volumes(ctx: CommandContext, params: ListVolumesParams) -> ListResult[VolumeResponse]:
    """List the volumes the caller may see."""
    return listing(
        ctx,
        VolumeResponse,
        records.list_volumes,
        id=params.id,
        ids=params.ids,
        name=params.name,
        virtualmachineid=params.virtualmachineid,
        type=params.type,
        zoneid=params.zoneid,
        podid=params.podid,
        clusterid=params.clusterid,
        hostid=params.hostid,
        storageid=params.storageid,
        diskofferingid=params.diskofferingid,
        state=params.state,
        keyword=params.keyword,
        tags=params.tags,
        account_name=params.account,
        domainid=params.domainid,
        listall=bool(params.listall),
        isrecursive=bool(params.isrecursive),
    )


class MigrateVolumeParams(BaseParams):
    """Parameters of ``migrateVolume``."""

    volumeid: str = param("the ID of the volume", required=True, type="uuid")
    storageid: str = param("destination storage pool ID to migrate the volume to", required=True, entity="StoragePool")
    livemigrate: bool | None = param("if the volume should be live migrated when it is attached to a running vm")
    newdiskofferingid: str | None = param("The new disk offering ID that replaces the current one", since="4.17")


@api_command(
    "migrateVolume",
    params=MigrateVolumeParams,
    response=VolumeResponse,
    response_key="volume",
    is_async=True,
    since="3.0.0",
    entity_type="Volume",
    description="Migrate volume",
)
def migrate_volume(ctx: CommandContext, params: MigrateVolumeParams) -> VolumeResponse:
    """Move a detached volume (or one of a stopped VM) to another primary pool."""
    return _engine_call(
        ctx, migration.migrate_volume, params.volumeid, params.storageid, livemigrate=bool(params.livemigrate)
    )
