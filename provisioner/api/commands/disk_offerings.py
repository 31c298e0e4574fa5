"""Disk offerings: ``createDiskOffering``, ``updateDiskOffering``, ``listDiskOfferings`` (every role),
``deleteDiskOffering``. ``disksize`` is in GiB, as CloudStack sends it."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, ROOT_ONLY, call, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import disk_offerings


class DiskOfferingResponse(ResponseModel):
    """A disk offering (``DiskOfferingResponse``)."""

    id: str = Field(description="unique ID of the disk offering")
    name: str = Field(description="the name of the disk offering")
    displaytext: str = Field(description="an alternate display text of the disk offering.")
    disksize: int = Field(description="the size of the disk offering in GB")
    iscustomized: bool = Field(description="true if disk offering uses custom size, false otherwise")
    storagetype: str = Field(description="the storage type for this disk offering")
    provisioningtype: str = Field(description="provisioning type used to create volumes.")
    tags: str | None = Field(default=None, description="the tags for the disk offering")
    miniops: int | None = Field(default=None, description="the min iops of the disk offering")
    maxiops: int | None = Field(default=None, description="the max iops of the disk offering")
    displayoffering: bool = Field(description="whether to display the offering to the end user or not.")
    state: str | None = Field(default=None, description="state of the disk offering")
    created: CsDateTime | None = Field(default=None, description="the date this disk offering was created")


class CreateDiskOfferingParams(BaseParams):
    """Parameters of ``createDiskOffering``."""

    name: str = param("name of the disk offering", required=True)
    displaytext: str | None = param("An alternate display text of the disk offering, defaults to 'name'.")
    disksize: int | None = param("size of the disk offering in GB (1GB = 1,073,741,824 bytes)", type="long")
    customized: bool | None = param("whether disk offering size is custom or not")
    storagetype: str | None = param("the storage type of the disk offering. Values are local and shared.")
    provisioningtype: str | None = param(
        "provisioning type used to create volumes. Valid values are thin, sparse, fat."
    )
    tags: str | None = param("tags for the disk offering", length=4096)
    miniops: int | None = param("min iops of the disk offering", type="long")
    maxiops: int | None = param("max iops of the disk offering", type="long")
    displayoffering: bool | None = param("an optional field, whether to display the offering to the end user or not.")
    domainid: list[str] | None = param("the ID of the containing domain(s), null for public offerings", entity="Domain")


@api_command(
    "createDiskOffering",
    params=CreateDiskOfferingParams,
    response=DiskOfferingResponse,
    response_key="diskoffering",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Creates a disk offering.",
)
def create_disk_offering(ctx: CommandContext, params: CreateDiskOfferingParams) -> DiskOfferingResponse:
    """Create a fixed-size (``disksize``) or customised disk offering."""
    return one(
        ctx,
        DiskOfferingResponse,
        disk_offerings.create_disk_offering,
        name=params.name,
        displaytext=params.displaytext,
        disksize=params.disksize,
        customized=params.customized,
        storagetype=params.storagetype or "shared",
        provisioningtype=params.provisioningtype or "thin",
        tags=params.tags,
        miniops=params.miniops,
        maxiops=params.maxiops,
        displayoffering=True if params.displayoffering is None else params.displayoffering,
    )


class UpdateDiskOfferingParams(BaseParams):
    """Parameters of ``updateDiskOffering``."""

    id: str = param("ID of the disk offering", required=True, entity="DiskOffering")
    name: str | None = param("updates name of the disk offering with this value")
    displaytext: str | None = param("updates alternate display text of the disk offering with this value")
    sortkey: int | None = param("sort key of the disk offering, integer")
    displayoffering: bool | None = param("an optional field, whether to display the offering to the end user or not.")
    tags: str | None = param(
        "comma-separated list of tags for the disk offering, tags should match with existing storage pool tags",
        since="4.15",
    )


@api_command(
    "updateDiskOffering",
    params=UpdateDiskOfferingParams,
    response=DiskOfferingResponse,
    response_key="diskoffering",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates a disk offering.",
)
def update_disk_offering(ctx: CommandContext, params: UpdateDiskOfferingParams) -> DiskOfferingResponse:
    """Change a disk offering's names, order, visibility or tags."""
    changes = params.model_dump(exclude={"id"}, exclude_none=True)
    return one(ctx, DiskOfferingResponse, disk_offerings.update_disk_offering, params.id, **changes)


class ListDiskOfferingsParams(BaseListParams):
    """Parameters of ``listDiskOfferings``."""

    id: str | None = param("ID of the disk offering", entity="DiskOffering")
    name: str | None = param("name of the disk offering")
    storagetype: str | None = param("the storage type of the disk offering. Values are local and shared.", since="4.19")
    domainid: str | None = param("the ID of the domain of the disk offering.", entity="Domain")
    zoneid: str | None = param("id of zone disk offering is associated with", entity="Zone", since="4.13")
    isrecursive: bool | None = param(
        "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves."
    )
    listall: bool | None = param("If set to false, list only resources belonging to the command's caller")


@api_command(
    "listDiskOfferings",
    params=ListDiskOfferingsParams,
    response=DiskOfferingResponse,
    response_key="diskoffering",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists all available disk offerings.",
)
def list_disk_offerings(ctx: CommandContext, params: ListDiskOfferingsParams) -> ListResult[DiskOfferingResponse]:
    """List disk offerings; users see the displayed ones."""
    return listing(
        ctx,
        DiskOfferingResponse,
        disk_offerings.list_disk_offerings,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        storagetype=params.storagetype,
    )


class DeleteDiskOfferingParams(BaseParams):
    """Parameters of ``deleteDiskOffering``."""

    id: str = param("ID of the disk offering", required=True, entity="DiskOffering")


@api_command(
    "deleteDiskOffering",
    params=DeleteDiskOfferingParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a disk offering.",
)
def delete_disk_offering(ctx: CommandContext, params: DeleteDiskOfferingParams) -> None:
    """Remove a disk offering."""
    call(ctx, disk_offerings.delete_disk_offering, params.id)
