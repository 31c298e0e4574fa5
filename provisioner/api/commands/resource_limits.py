"""Resource limits and counts: ``listResourceLimits``, ``updateResourceLimit``, ``updateResourceCount``
(``ResourceLimitResponse`` and ``ResourceCountResponse`` of ``apache/cloudstack-go`` ``LimitService.go``).

``resourcetype`` is sent as a string of CloudStack's ordinal (``"0"`` user_vm ... ``"11"`` secondary_storage),
``max`` as a number (-1 unlimited; GiB for the storage types), ``resourcecount`` in units (bytes for storage).
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.identity import ADMINS
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.identity import resource_limits


class ResourceLimitResponse(ResponseModel):
    """One limit (``ResourceLimitResponse``)."""

    account: str | None = Field(default=None, description="the account of the resource limit")
    domainid: str | None = Field(default=None, description="the domain ID of the resource limit")
    domain: str | None = Field(default=None, description="the domain name of the resource limit")
    domainpath: str | None = Field(default=None, description="path of the domain to which the resource limit belongs")
    resourcetype: str = Field(
        description="resource type. Values include 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11. See the resourceType parameter"
    )
    resourcetypename: str = Field(
        description="resource type name. Values include user_vm, public_ip, volume, snapshot, template, network, "
        "vpc, cpu, memory, primary_storage, secondary_storage"
    )
    max: int = Field(description="the maximum number of the resource. A -1 means the resource currently has no limit.")


class ResourceCountResponse(ResponseModel):
    """One recalculated count (``ResourceCountResponse``)."""

    account: str | None = Field(default=None, description="the account for which resource count's are updated")
    domainid: str | None = Field(default=None, description="the domain ID for which resource count's are updated")
    domain: str | None = Field(default=None, description="the domain name for which resource count's are updated")
    resourcetype: str = Field(description="resource type. Values include 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11.")
    resourcetypename: str = Field(description="resource type name.")
    resourcecount: int = Field(description="resource count")


_TYPES = (
    "Type of resource: 0 Instance, 1 IP, 2 Volume, 3 Snapshot, 4 Template, 5 Project, 6 Network, 7 VPC, 8 CPU, "
    "9 Memory, 10 PrimaryStorage (GiB), 11 SecondaryStorage (GiB)"
)


class ListResourceLimitsParams(BaseListParams):
    """Parameters of ``listResourceLimits``."""

    account: str | None = param("list resources by account. Must be used with the domainId parameter.")
    domainid: str | None = param("list only resources belonging to the domain specified", entity="Domain")
    resourcetype: str | None = param(_TYPES)
    resourcetypename: str | None = param(
        "Type of resource (wins over resourceType if both are provided): user_vm, public_ip, volume, snapshot, "
        "template, project, network, vpc, cpu, memory, primary_storage, secondary_storage",
        since="4.11",
    )


@api_command(
    "listResourceLimits",
    params=ListResourceLimitsParams,
    response=ResourceLimitResponse,
    response_key="resourcelimit",
    list=True,
    since="1.0",
    description="Lists resource limits.",
)
def list_resource_limits(ctx: CommandContext, params: ListResourceLimitsParams) -> ListResult[ResourceLimitResponse]:
    """The limits of an account (the caller's by default) or of a domain."""
    rows = backend_of(ctx).identity.transaction(
        lambda conn: resource_limits.list_resource_limits(
            conn,
            ctx.caller,
            account_name=params.account,
            domain_uuid=params.domainid,
            resourcetype=params.resourcetype,
            resourcetypename=params.resourcetypename,
        ),
        read_only=True,
    )
    start, limit = ctx.page.offset, ctx.page.limit
    page = rows[start:] if limit is None else rows[start : start + limit]
    return ListResult([ResourceLimitResponse.model_validate(row) for row in page], len(rows))


class UpdateResourceLimitParams(BaseParams):
    """Parameters of ``updateResourceLimit``."""

    resourcetype: int = param(_TYPES, required=True)
    max: int | None = param("Maximum resource limit.")
    account: str | None = param("Update resource for a specified account. Must be used with the domainId parameter.")
    domainid: str | None = param(
        "Update resource limits for all accounts in specified domain. If used with the account parameter, updates "
        "resource limits for a specified account in specified domain.",
        entity="Domain",
    )


@api_command(
    "updateResourceLimit",
    params=UpdateResourceLimitParams,
    response=ResourceLimitResponse,
    response_key="resourcelimit",
    since="1.0",
    authorized=ADMINS,
    description="Updates resource limits for an account or domain.",
)
def update_resource_limit(ctx: CommandContext, params: UpdateResourceLimitParams) -> ResourceLimitResponse:
    """Set one limit of an account or domain; no ``max`` means unlimited (-1)."""
    row = backend_of(ctx).identity.transaction(
        lambda conn: resource_limits.update_resource_limit(
            conn,
            ctx.caller,
            resourcetype=params.resourcetype,
            maximum=params.max,
            account_name=params.account,
            domain_uuid=params.domainid,
        )
    )
    return ResourceLimitResponse.model_validate(row)


class UpdateResourceCountParams(BaseParams):
    """Parameters of ``updateResourceCount``."""

    domainid: str = param(
        "If account parameter specified then updates resource counts for a specified account in this domain else "
        "update resource counts for all accounts & child domains in specified domain.",
        required=True,
        entity="Domain",
    )
    account: str | None = param(
        "Update resource count for a specified account. Must be used with the domainId parameter."
    )
    resourcetype: int | None = param(_TYPES + "; all types when absent")


@api_command(
    "updateResourceCount",
    params=UpdateResourceCountParams,
    response=ResourceCountResponse,
    response_key="resourcecount",
    list=True,
    since="2.1",
    authorized=ADMINS,
    description="Recalculate and update resource count for an account or domain.",
)
def update_resource_count(ctx: CommandContext, params: UpdateResourceCountParams) -> list[ResourceCountResponse]:
    """Recount from the resources themselves (counts are always computed so, so nothing is stored)."""
    rows = backend_of(ctx).identity.transaction(
        lambda conn: resource_limits.update_resource_count(
            conn, ctx.caller, domain_uuid=params.domainid, account_name=params.account, resourcetype=params.resourcetype
        ),
        read_only=True,
    )
    return [ResourceCountResponse.model_validate(row) for row in rows]
