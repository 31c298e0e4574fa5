"""Volume snapshots: ``createSnapshot`` (async-create), ``listSnapshots``, ``deleteSnapshot`` and
``revertSnapshot`` (async); handlers only call :mod:`provisioner.services.snapshots.volume_snapshots`."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import call, listing
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command, create_step
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.snapshots import volume_snapshots


class SnapshotResponse(ResponseModel):
    """A volume snapshot (``SnapshotResponse``)."""

    id: str = Field(description="ID of the snapshot")
    name: str = Field(description="name of the snapshot")
    volumeid: str = Field(description="ID of the disk volume")
    volumename: str | None = Field(default=None, description="name of the disk volume")
    volumetype: str | None = Field(default=None, description="type of the disk volume")
    volumestate: str | None = Field(default=None, description="state of the disk volume")
    snapshottype: str = Field(description="the type of the snapshot")
    intervaltype: str | None = Field(
        default=None, description="valid types are hourly, daily, weekly, monthy, template, and none."
    )
    state: str = Field(description="the state of the snapshot. BackedUp means that snapshot is ready to be used")
    created: CsDateTime | None = Field(default=None, description="the date the snapshot was created")
    zoneid: str | None = Field(default=None, description="id of the availability zone")
    zonename: str | None = Field(default=None, description="name of the availability zone")
    account: str | None = Field(default=None, description="the account associated with the snapshot")
    domainid: str | None = Field(default=None, description="the domain ID of the snapshot's account")
    domain: str | None = Field(default=None, description="the domain name of the snapshot's account")
    domainpath: str | None = Field(default=None, description="path of the Domain the snapshot's account belongs to")
    physicalsize: int = Field(description="physical size of backedup snapshot on image store")
    virtualsize: int = Field(description="virtual size of backedup snapshot on image store")
    locationtype: str | None = Field(default=None, description="valid location types are primary and secondary.")
    hypervisor: str | None = Field(default=None, description="the hypervisor of the snapshot's volume")
    revertable: bool = Field(description="indicates whether the underlying storage supports reverting the volume")
    tags: list[TagResponse] = Field(default_factory=list, description="the list of resource tags")


class CreateSnapshotParams(BaseParams):
    """Parameters of ``createSnapshot``."""

    volumeid: str = param("The ID of the disk volume", required=True, type="uuid")
    name: str | None = param("the name of the snapshot")
    account: str | None = param("The account of the snapshot; the account must be the volume's")
    domainid: str | None = param("The domain ID of the snapshot", entity="Domain")
    policyid: str | None = param("policy id of the snapshot, if this is null, then use MANUAL_POLICY.")
    quiescevm: bool | None = param("quiesce vm if true")
    asyncbackup: bool | None = param("asynchronous backup if true")
    locationtype: str | None = param("Currently applicable only for managed storage")
    tags: list[dict[str, str]] | None = param("Map of tags (key/value pairs)")


@api_command(
    "createSnapshot",
    params=CreateSnapshotParams,
    response=SnapshotResponse,
    response_key="snapshot",
    is_async=True,
    create=True,
    since="1.0",
    entity_type="Snapshot",
    description="Creates an instant snapshot of a volume.",
)
def create_snapshot(ctx: CommandContext, params: CreateSnapshotParams) -> SnapshotResponse:
    """Take the snapshot on primary storage."""
    assert ctx.entity_id is not None
    engine = backend_of(ctx).engine
    return SnapshotResponse.model_validate(volume_snapshots.take_snapshot(engine, ctx.caller, ctx.entity_id))


@create_step("createSnapshot")
def create_snapshot_row(ctx: CommandContext, params: CreateSnapshotParams) -> str:
    """The Allocated snapshot, so its id is known before the job runs."""
    return str(call(ctx, volume_snapshots.create_snapshot_row, params.volumeid, params.name))


class ListSnapshotsParams(ListDomainResourcesParams):
    """Parameters of ``listSnapshots``."""

    id: str | None = param("lists snapshot by snapshot ID", type="uuid")
    ids: list[str] | None = param("the IDs of the snapshots, mutually exclusive with id", since="4.9")
    name: str | None = param("lists snapshot by snapshot name")
    volumeid: str | None = param("the ID of the disk volume", type="uuid")
    snapshottype: str | None = param("valid values are MANUAL or RECURRING.")
    intervaltype: str | None = param("valid values are HOURLY, DAILY, WEEKLY, and MONTHLY.")
    zoneid: str | None = param("list snapshots by zone id", entity="Zone")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    projectid: str | None = param("list objects by project")


@api_command(
    "listSnapshots",
    params=ListSnapshotsParams,
    response=SnapshotResponse,
    response_key="snapshot",
    list=True,
    since="1.0",
    description="Lists all available snapshots for the account.",
)
def list_snapshots(ctx: CommandContext, params: ListSnapshotsParams) -> ListResult[SnapshotResponse]:
    """List the snapshots the caller may see."""
    return listing(
        ctx,
        SnapshotResponse,
        volume_snapshots.list_snapshots,
        id=params.id,
        ids=params.ids,
        name=params.name,
        volumeid=params.volumeid,
        snapshottype=params.snapshottype,
        intervaltype=params.intervaltype,
        zoneid=params.zoneid,
        keyword=params.keyword,
        tags=params.tags,
        account_name=params.account,
        domainid=params.domainid,
        listall=bool(params.listall),
        isrecursive=bool(params.isrecursive),
    )


class SnapshotIdParams(BaseParams):
    """Parameters of ``deleteSnapshot`` and ``revertSnapshot``."""

    id: str = param("The ID of the snapshot", required=True, type="uuid")


@api_command(
    "deleteSnapshot",
    params=SnapshotIdParams,
    is_async=True,
    since="1.0",
    entity_type="Snapshot",
    description="Deletes a snapshot of a disk volume.",
)
def delete_snapshot(ctx: CommandContext, params: SnapshotIdParams) -> None:
    """Drop the snapshot from primary storage."""
    volume_snapshots.delete_snapshot(backend_of(ctx).engine, ctx.caller, params.id)


@api_command(
    "revertSnapshot",
    params=SnapshotIdParams,
    response=SnapshotResponse,
    response_key="snapshot",
    is_async=True,
    since="4.2.0",
    entity_type="Snapshot",
    description="This is supposed to revert a volume snapshot. This command is only supported with KVM so far",
)
def revert_snapshot(ctx: CommandContext, params: SnapshotIdParams) -> SnapshotResponse:
    """Return the volume's disk to the snapshot (its VM stopped)."""
    engine = backend_of(ctx).engine
    return SnapshotResponse.model_validate(volume_snapshots.revert_snapshot(engine, ctx.caller, params.id))
