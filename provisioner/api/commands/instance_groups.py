"""Instance groups: ``createInstanceGroup``, ``updateInstanceGroup``, ``deleteInstanceGroup``,
``listInstanceGroups`` (every role, on its own account; admins for the accounts they administer)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, call, listing, one
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.compute import groups


class InstanceGroupResponse(ResponseModel):
    """An instance group (``InstanceGroupResponse``)."""

    id: str = Field(description="the ID of the instance group")
    name: str = Field(description="the name of the instance group")
    created: CsDateTime | None = Field(default=None, description="time and date the instance group was created")
    account: str | None = Field(default=None, description="the account owning the instance group")
    domainid: str | None = Field(default=None, description="the domain ID of the instance group")
    domain: str | None = Field(default=None, description="the domain name of the instance group")
    domainpath: str | None = Field(default=None, description="path of the Domain the instance group belongs to")


class CreateInstanceGroupParams(BaseParams):
    """Parameters of ``createInstanceGroup``."""

    name: str = param("the name of the instance group", required=True)
    account: str | None = param(
        "the account of the instance group. The account parameter must be used with the domainId parameter."
    )
    domainid: str | None = param("the domain ID of account owning the instance group", entity="Domain")
    projectid: str | None = param("The project of the instance group", type="uuid")


@api_command(
    "createInstanceGroup",
    params=CreateInstanceGroupParams,
    response=InstanceGroupResponse,
    response_key="instancegroup",
    since="1.0",
    authorized=EVERYONE,
    description="Creates a vm group",
)
def create_instance_group(ctx: CommandContext, params: CreateInstanceGroupParams) -> InstanceGroupResponse:
    """Create a group of the caller's (or an administered) account."""
    return one(
        ctx,
        InstanceGroupResponse,
        groups.create_instance_group,
        name=params.name,
        account_name=params.account,
        domainid=params.domainid,
    )


class UpdateInstanceGroupParams(BaseParams):
    """Parameters of ``updateInstanceGroup``."""

    id: str = param("Instance group ID", required=True, entity="InstanceGroup")
    name: str | None = param("new instance group name")


@api_command(
    "updateInstanceGroup",
    params=UpdateInstanceGroupParams,
    response=InstanceGroupResponse,
    response_key="instancegroup",
    since="1.0",
    authorized=EVERYONE,
    description="Updates a vm group",
)
def update_instance_group(ctx: CommandContext, params: UpdateInstanceGroupParams) -> InstanceGroupResponse:
    """Rename a group."""
    return one(ctx, InstanceGroupResponse, groups.update_instance_group, params.id, name=params.name)


class DeleteInstanceGroupParams(BaseParams):
    """Parameters of ``deleteInstanceGroup``."""

    id: str = param("the ID of the instance group", required=True, entity="InstanceGroup")


@api_command(
    "deleteInstanceGroup",
    params=DeleteInstanceGroupParams,
    since="1.0",
    authorized=EVERYONE,
    description="Deletes a vm group",
)
def delete_instance_group(ctx: CommandContext, params: DeleteInstanceGroupParams) -> None:
    """Delete a group; its VMs leave it."""
    call(ctx, groups.delete_instance_group, params.id)


class ListInstanceGroupsParams(ListDomainResourcesParams):
    """Parameters of ``listInstanceGroups``."""

    id: str | None = param("list instance groups by ID", entity="InstanceGroup")
    name: str | None = param("list instance groups by name")
    projectid: str | None = param("list objects by project", type="uuid")


@api_command(
    "listInstanceGroups",
    params=ListInstanceGroupsParams,
    response=InstanceGroupResponse,
    response_key="instancegroup",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists vm groups",
)
def list_instance_groups(ctx: CommandContext, params: ListInstanceGroupsParams) -> ListResult[InstanceGroupResponse]:
    """The groups the caller may see."""
    return listing(
        ctx,
        InstanceGroupResponse,
        groups.list_instance_groups,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        account_name=params.account,
        domainid=params.domainid,
        listall=params.listall,
        isrecursive=params.isrecursive,
    )
