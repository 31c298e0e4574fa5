"""Affinity groups: ``createAffinityGroup``, ``deleteAffinityGroup`` (async), ``listAffinityGroups``,
``listAffinityGroupTypes``, ``updateVMAffinityGroup`` (async, VM Stopped). Every role, on its own account."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, call, listing, one, page_of
from provisioner.api.commands.nics import answer_vm
from provisioner.api.commands.virtual_machines import VirtualMachineResponse
from provisioner.api.fields import BaseListParams, BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.compute import groups


class AffinityGroupResponse(ResponseModel):
    """An affinity group (``AffinityGroupResponse``)."""

    id: str = Field(description="the ID of the affinity group")
    name: str = Field(description="the name of the affinity group")
    type: str = Field(description="the type of the affinity group")
    description: str | None = Field(default=None, description="the description of the affinity group")
    account: str | None = Field(default=None, description="the account owning the affinity group")
    domainid: str | None = Field(default=None, description="the domain ID of the affinity group")
    domain: str | None = Field(default=None, description="the domain name of the affinity group")
    domainpath: str | None = Field(default=None, description="path of the Domain the affinity group belongs to")
    virtualmachineIds: list[str] = Field(description="virtual machine IDs associated with this affinity group")


class AffinityGroupTypeResponse(ResponseModel):
    """An affinity group type (``AffinityGroupTypeResponse``)."""

    type: str = Field(description="the type of the affinity group")


class OwnerParams(BaseParams):
    """The account the group belongs to (the caller's by default)."""

    account: str | None = param("an account for the affinity group. Must be used with domainId.")
    domainid: str | None = param("domainId of the account owning the affinity group", entity="Domain")
    projectid: str | None = param("create affinity group for project", type="uuid")


class CreateAffinityGroupParams(OwnerParams):
    """Parameters of ``createAffinityGroup``."""

    name: str = param("name of the affinity group", required=True)
    type: str = param("Type of the affinity group from the available affinity/anti-affinity group types", required=True)
    description: str | None = param("optional description of the affinity group")


@api_command(
    "createAffinityGroup",
    params=CreateAffinityGroupParams,
    response=AffinityGroupResponse,
    response_key="affinitygroup",
    is_async=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="Creates an affinity/anti-affinity group",
    entity_type="AffinityGroup",
)
def create_affinity_group(ctx: CommandContext, params: CreateAffinityGroupParams) -> AffinityGroupResponse:
    """Create a host affinity or anti-affinity group."""
    return one(
        ctx,
        AffinityGroupResponse,
        groups.create_affinity_group,
        name=params.name,
        type=params.type,
        description=params.description,
        account_name=params.account,
        domainid=params.domainid,
    )


class DeleteAffinityGroupParams(OwnerParams):
    """Parameters of ``deleteAffinityGroup``."""

    id: str | None = param(
        "The ID of the affinity group. Mutually exclusive with name parameter", entity="AffinityGroup"
    )
    name: str | None = param("The name of the affinity group. Mutually exclusive with ID parameter")


@api_command(
    "deleteAffinityGroup",
    params=DeleteAffinityGroupParams,
    is_async=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="Deletes affinity group",
    entity_type="AffinityGroup",
)
def delete_affinity_group(ctx: CommandContext, params: DeleteAffinityGroupParams) -> None:
    """Delete a group by id, or by name in an account; its VMs leave it."""
    call(
        ctx,
        groups.delete_affinity_group,
        id=params.id,
        name=params.name,
        account_name=params.account,
        domainid=params.domainid,
    )


class ListAffinityGroupsParams(ListDomainResourcesParams):
    """Parameters of ``listAffinityGroups``."""

    id: str | None = param("list the affinity group by the ID provided", entity="AffinityGroup")
    name: str | None = param("lists affinity groups by name")
    type: str | None = param("lists affinity groups by type")
    virtualmachineid: str | None = param("lists affinity groups by virtual machine ID", entity="VirtualMachine")
    projectid: str | None = param("list objects by project", type="uuid")


@api_command(
    "listAffinityGroups",
    params=ListAffinityGroupsParams,
    response=AffinityGroupResponse,
    response_key="affinitygroup",
    list=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="Lists affinity groups",
)
def list_affinity_groups(ctx: CommandContext, params: ListAffinityGroupsParams) -> ListResult[AffinityGroupResponse]:
    """The caller's affinity groups (and, for admins with listall, those they administer)."""
    return listing(
        ctx,
        AffinityGroupResponse,
        groups.list_affinity_groups,
        id=params.id,
        name=params.name,
        type=params.type,
        virtualmachineid=params.virtualmachineid,
        keyword=params.keyword,
        account_name=params.account,
        domainid=params.domainid,
        listall=params.listall,
        isrecursive=params.isrecursive,
    )


@api_command(
    "listAffinityGroupTypes",
    params=BaseListParams,
    response=AffinityGroupTypeResponse,
    response_key="affinityGroupType",
    list=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="Lists affinity group types available",
)
def list_affinity_group_types(ctx: CommandContext, params: BaseListParams) -> ListResult[AffinityGroupTypeResponse]:
    """The group types the allocator honours."""
    return page_of(ctx, AffinityGroupTypeResponse, call(ctx, groups.list_affinity_group_types))


class UpdateVMAffinityGroupParams(BaseParams):
    """Parameters of ``updateVMAffinityGroup``."""

    id: str = param("The ID of the virtual machine", required=True, entity="VirtualMachine")
    affinitygroupids: list[str] | None = param(
        "comma separated list of affinity groups id that are going to be applied to the virtual machine. "
        "Should be passed only when vm is created from a zone with Basic Network support. "
        "Mutually exclusive with securitygroupnames parameter",
        entity="AffinityGroup",
    )
    affinitygroupnames: list[str] | None = param(
        "comma separated list of affinity groups names that are going to be applied to the virtual machine. "
        "Mutually exclusive with affinitygroupids parameter"
    )


@api_command(
    "updateVMAffinityGroup",
    params=UpdateVMAffinityGroupParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to be "
    "stopped and restarted for the new properties to take effect.",
    entity_type="VirtualMachine",
)
def update_vm_affinity_group(ctx: CommandContext, params: UpdateVMAffinityGroupParams) -> VirtualMachineResponse:
    """Replace the groups of a Stopped VM; they apply at its next start."""
    return answer_vm(
        ctx,
        groups.update_vm_affinity_groups,
        id=params.id,
        affinitygroupids=params.affinitygroupids,
        affinitygroupnames=params.affinitygroupnames,
    )
