"""Dynamic roles and their ordered rule permissions, and ``listProjects`` (no projects: ``{}``).

Fields follow ``apache/cloudstack-go`` ``RoleService.go``; every role command is sync.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.fields import BaseListParams, BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.exceptions import ParamError
from provisioner.server.backend import backend_of
from provisioner.services.identity import roles
from provisioner.services.identity.models import Role, RolePermission
from provisioner.services.principal import RoleType

ROOT = (RoleType.ADMIN,)


def role_type(value: str) -> RoleType:
    """A role type named case-insensitively (``admin``, ``DomainAdmin``...).

    Raises:
        ParamError: not a role type (431).
    """
    for kind in RoleType:
        if kind.value.lower() == value.strip().lower():
            return kind
    raise ParamError(f"Invalid role type {value}: it must be one of {', '.join(k.value for k in RoleType)}")


class RoleResponse(ResponseModel):
    """A role (``RoleResponse``)."""

    id: str = Field(description="the ID of the role")
    name: str = Field(description="the name of the role")
    type: str = Field(description="the type of the role")
    description: str | None = Field(default=None, description="the description of the role")
    isdefault: bool = Field(description="true if role is default, false otherwise")
    ispublic: bool = Field(description="Indicates whether the role will be visible to all users (public) or not")
    state: str = Field(default="enabled", description="the state of the role")


def role_response(item: Role) -> RoleResponse:
    """The wire form of a service :class:`Role`."""
    return RoleResponse(
        id=item.id,
        name=item.name,
        type=item.role_type.value,
        description=item.description,
        isdefault=item.is_default,
        ispublic=item.is_public,
    )


class CreateRoleParams(BaseParams):
    """Parameters of ``createRole``."""

    name: str = param("Creates a role with this unique name", required=True)
    type: str | None = param("The type of the role, valid options are: Admin, ResourceAdmin, DomainAdmin, User")
    roleid: str | None = param(
        "ID of the role to be cloned from. Either roleid or type must be passed in",
        entity="Role",
        since="4.15",
    )
    description: str | None = param("The description of the role")
    ispublic: bool | None = param(
        "Indicates whether the role will be visible to all users (public) or not",
        since="4.15",
    )


@api_command(
    "createRole",
    params=CreateRoleParams,
    response=RoleResponse,
    response_key="role",
    since="4.9.0",
    authorized=ROOT,
    description="Creates a role",
)
def create_role(ctx: CommandContext, params: CreateRoleParams) -> RoleResponse:
    """Create a role of a type, or a copy of another role."""
    kind = role_type(params.type) if params.type else None
    created = backend_of(ctx).identity.transaction(
        lambda conn: roles.create_role(
            conn,
            ctx.caller,
            params.name,
            role_type=kind,
            description=params.description,
            clone_from=params.roleid,
            is_public=True if params.ispublic is None else params.ispublic,
        )
    )
    return role_response(created)


class ListRolesParams(BaseListParams):
    """Parameters of ``listRoles``."""

    id: str | None = param("List role by role ID.", entity="Role")
    name: str | None = param("List role by role name.")
    type: str | None = param("List role by role type, valid options are: Admin, ResourceAdmin, DomainAdmin, User.")


@api_command(
    "listRoles",
    params=ListRolesParams,
    response=RoleResponse,
    response_key="role",
    list=True,
    since="4.9.0",
    description="Lists dynamic roles in CloudStack",
)
def list_roles(ctx: CommandContext, params: ListRolesParams) -> ListResult[RoleResponse]:
    """List roles: all for root admins, the public ones for others."""
    kind = role_type(params.type) if params.type else None
    found = backend_of(ctx).identity.transaction(
        lambda conn: roles.list_roles(conn, ctx.caller, uuid=params.id, name=params.name, role_type=kind)
    )
    if params.keyword:  # a handful of roles: filtering the list is cheaper than another query shape
        found = [item for item in found if params.keyword.lower() in item.name.lower()]
    end = None if ctx.page.limit is None else ctx.page.offset + ctx.page.limit
    return ListResult([role_response(item) for item in found[ctx.page.offset : end]], len(found))


class UpdateRoleParams(BaseParams):
    """Parameters of ``updateRole``."""

    id: str = param("ID of the role", required=True, entity="Role")
    name: str | None = param("creates a role with this unique name")
    description: str | None = param("The description of the role")
    type: str | None = param("The type of the role (cannot be changed; accepted for compatibility)")
    ispublic: bool | None = param("Indicates whether the role will be visible to all users (public) or not")


@api_command(
    "updateRole",
    params=UpdateRoleParams,
    response=RoleResponse,
    response_key="role",
    since="4.9.0",
    authorized=ROOT,
    description="Updates a role",
)
def update_role(ctx: CommandContext, params: UpdateRoleParams) -> RoleResponse:
    """Rename, redescribe, publish or unpublish a role."""
    updated = backend_of(ctx).identity.transaction(
        lambda conn: roles.update_role(
            conn, ctx.caller, params.id, name=params.name, description=params.description, is_public=params.ispublic
        )
    )
    return role_response(updated)


class IdParams(BaseParams):
    """An id."""

    id: str = param("ID of the role", required=True, entity="Role")


@api_command("deleteRole", params=IdParams, since="4.9.0", authorized=ROOT, description="Deletes a role")
def delete_role(ctx: CommandContext, params: IdParams) -> None:
    """Delete a role (not a default one, nor one accounts use)."""
    backend_of(ctx).identity.transaction(lambda conn: roles.delete_role(conn, ctx.caller, params.id))


class RolePermissionResponse(ResponseModel):
    """A role rule (``RolePermissionResponse``)."""

    id: str = Field(description="the ID of the role permission")
    roleid: str = Field(description="the ID of the role to which the role permission belongs")
    rolename: str = Field(description="the name of the role to which the role permission belongs")
    rule: str = Field(description="the api name or wildcard rule")
    permission: str = Field(description="the permission type of the api name or wildcard rule, allow/deny")
    description: str | None = Field(default=None, description="the description of the role permission")


def permission_response(item: RolePermission) -> RolePermissionResponse:
    """The wire form of a service :class:`RolePermission`."""
    return RolePermissionResponse(
        id=item.id,
        roleid=item.role_id,
        rolename=item.role_name,
        rule=item.rule,
        permission=item.permission,
        description=item.description,
    )


class CreateRolePermissionParams(BaseParams):
    """Parameters of ``createRolePermission``."""

    roleid: str = param("ID of the role", required=True, entity="Role")
    rule: str = param("The API name or wildcard rule such as list*", required=True)
    permission: str = param("The rule permission, allow or deny. Default: deny.", required=True)
    description: str | None = param("The description of the role permission")


@api_command(
    "createRolePermission",
    params=CreateRolePermissionParams,
    response=RolePermissionResponse,
    response_key="rolepermission",
    since="4.9.0",
    authorized=ROOT,
    description="Adds an API permission to a role",
)
def create_role_permission(ctx: CommandContext, params: CreateRolePermissionParams) -> RolePermissionResponse:
    """Append a rule to a role (evaluated after its existing rules)."""
    created = backend_of(ctx).identity.transaction(
        lambda conn: roles.create_role_permission(
            conn, ctx.caller, params.roleid, params.rule, params.permission, description=params.description
        )
    )
    return permission_response(created)


class ListRolePermissionsParams(BaseParams):
    """Parameters of ``listRolePermissions``."""

    roleid: str | None = param("ID of the role", entity="Role")


@api_command(
    "listRolePermissions",
    params=ListRolePermissionsParams,
    response=RolePermissionResponse,
    response_key="rolepermission",
    list=True,
    since="4.9.0",
    authorized=ROOT,
    description="Lists role permissions",
)
def list_role_permissions(ctx: CommandContext, params: ListRolePermissionsParams) -> list[RolePermissionResponse]:
    """A role's rules in evaluation order."""
    found = backend_of(ctx).identity.transaction(
        lambda conn: roles.list_role_permissions(conn, ctx.caller, params.roleid)
    )
    return [permission_response(item) for item in found]


class UpdateRolePermissionParams(BaseParams):
    """Parameters of ``updateRolePermission``."""

    roleid: str = param("ID of the role", required=True, entity="Role")
    ruleorder: list[str] | None = param(
        "The parent role permission uuid, use 0 to move this rule at the top of the list",
        entity="RolePermission",
    )
    ruleid: str | None = param("Role permission rule id", entity="RolePermission", since="4.11")
    permission: str | None = param("Rule permission, can be: allow or deny", since="4.11")


@api_command(
    "updateRolePermission",
    params=UpdateRolePermissionParams,
    since="4.9.0",
    authorized=ROOT,
    description="Updates a role permission order",
)
def update_role_permission(ctx: CommandContext, params: UpdateRolePermissionParams) -> None:
    """Reorder a role's rules (``ruleorder``) or change one rule's permission (``ruleid`` + ``permission``)."""
    if params.ruleorder is None and params.ruleid is None:
        raise ParamError("Either ruleorder, or ruleid and permission must be specified")
    backend_of(ctx).identity.transaction(
        lambda conn: roles.update_role_permission(
            conn,
            ctx.caller,
            params.roleid,
            rule_order=params.ruleorder,
            permission_uuid=params.ruleid,
            permission=params.permission,
        )
    )


class PermissionIdParams(BaseParams):
    """Parameters of ``deleteRolePermission``."""

    id: str = param("ID of the role permission", required=True, entity="RolePermission")


@api_command(
    "deleteRolePermission",
    params=PermissionIdParams,
    since="4.9.0",
    authorized=ROOT,
    description="Deletes a role permission",
)
def delete_role_permission(ctx: CommandContext, params: PermissionIdParams) -> None:
    """Delete a rule."""
    backend_of(ctx).identity.transaction(lambda conn: roles.delete_role_permission(conn, ctx.caller, params.id))


class ProjectResponse(ResponseModel):
    """A project (none exist: ``listProjects`` answers ``{}``)."""

    id: str = Field(description="the id of the project")
    name: str = Field(description="the name of the project")


class ListProjectsParams(ListDomainResourcesParams):
    """Parameters of ``listProjects``."""

    id: str | None = param("list projects by project ID", type="uuid")
    name: str | None = param("list projects by name")
    displaytext: str | None = param("list projects by display text")
    state: str | None = param("list projects by state")


@api_command(
    "listProjects",
    params=ListProjectsParams,
    response=ProjectResponse,
    response_key="project",
    list=True,
    since="3.0.0",
    description="Lists projects and provides detailed information for listed projects",
)
def list_projects(ctx: CommandContext, params: ListProjectsParams) -> list[ProjectResponse]:
    """No projects yet: always the empty list ``{}``."""
    return []
