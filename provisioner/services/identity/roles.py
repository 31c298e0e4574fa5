"""Roles with dynamic, ordered rule permissions (``DynamicRoleBasedAPIAccessChecker``)."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from provisioner.db.schema import account, role, role_permission, utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceInUseError
from provisioner.services.common import row_by_uuid
from provisioner.services.identity.models import Role, RolePermission
from provisioner.services.principal import Caller, RoleType

_NAMESPACE = uuidlib.UUID("5b0f3a52-6d8e-4c1e-9a57-3f2d8e1b7c40")


def _stable_uuid(name: str) -> str:
    # Seeded roles get the same UUID on every installation, so scripts can name them by id.
    return str(uuidlib.uuid5(_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class SeedRole:
    """A role created on first start, with its rules in evaluation order."""

    name: str
    role_type: RoleType
    description: str
    rules: tuple[tuple[str, str], ...] = ()

    @property
    def uuid(self) -> str:
        """The role's stable public id."""
        return _stable_uuid(self.name)


_READ_ONLY_RULES = (
    ("list*", "allow"),
    ("getApiLimit", "allow"),
    ("getCloudIdentifier", "allow"),
    ("queryAsyncJobResult", "allow"),
    ("*", "deny"),
)

#: CloudStack's default roles; the first four keep CloudStack's ids 1-4 when seeded into an empty table.
SEED_ROLES: tuple[SeedRole, ...] = (
    SeedRole("Root Admin", RoleType.ADMIN, "Default root admin role"),
    SeedRole("Resource Admin", RoleType.RESOURCE_ADMIN, "Default resource admin role"),
    SeedRole("Domain Admin", RoleType.DOMAIN_ADMIN, "Default domain admin role"),
    SeedRole("User", RoleType.USER, "Default user role"),
    SeedRole("Read-Only Admin - Default", RoleType.ADMIN, "Default read-only admin role", _READ_ONLY_RULES),
    SeedRole("Read-Only User - Default", RoleType.USER, "Default read-only user role", _READ_ONLY_RULES),
)
ADMIN_ROLE_UUID = SEED_ROLES[0].uuid
DEFAULT_ROLE_FOR_TYPE = {seed.role_type: seed.uuid for seed in SEED_ROLES[:4]}
PERMISSIONS = ("allow", "deny")


@lru_cache(maxsize=1024)
def _rule_regex(rule: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in rule.split("*")))


def rule_matches(rule: str, command: str) -> bool:
    """True when ``rule`` (an API name, ``*`` matching any run of characters) matches ``command``."""
    return _rule_regex(rule).fullmatch(command) is not None


def validate_rule(rule: str) -> str:
    """Check a rule is an API name with optional ``*`` wildcards."""
    if not rule or not re.fullmatch(r"[A-Za-z0-9*]+", rule):
        raise ParamError(f"Invalid rule provided: {rule!r}; only API names and the * wildcard are allowed")
    return rule


def is_allowed(conn: Connection, caller: Caller, command: str, default_roles: Collection[RoleType]) -> bool:
    """May ``caller`` run ``command``? The first matching rule of its role decides.

    Args:
        conn: a database connection.
        caller: the authenticated caller.
        command: the API command name, e.g. ``listZones``.
        default_roles: the command's authorized role types, used when no rule matches.
    """
    if caller.role_id == ADMIN_ROLE_UUID:
        return True
    rules = conn.execute(
        select(role_permission.c.rule, role_permission.c.permission)
        .join(role, role.c.id == role_permission.c.role_id)
        .where(role.c.uuid == caller.role_id)
        .order_by(role_permission.c.sort_order, role_permission.c.id)
    ).all()
    for rule, permission in rules:
        if rule_matches(rule, command):
            return bool(permission == "allow")
    return caller.role_type in default_roles


def to_role(row: Row[Any]) -> Role:
    """Build a :class:`Role` from a ``role`` row."""
    m = row._mapping
    return Role(m["uuid"], m["name"], RoleType(m["role_type"]), m["description"], m["is_public"], m["is_default"])


def _require_root(caller: Caller) -> None:
    if not caller.is_root_admin:
        raise PermissionDeniedError("Only root admins may manage roles")


def create_role(
    conn: Connection,
    caller: Caller,
    name: str,
    *,
    role_type: RoleType | None = None,
    description: str | None = None,
    clone_from: str | None = None,
    is_public: bool = True,
) -> Role:
    """``createRole``: a new role of a type, or a copy of another role's type and rules."""
    _require_root(caller)
    source = row_by_uuid(conn, role, clone_from, "role") if clone_from else None
    if source is None and role_type is None:
        raise ParamError("Please provide either a role type or a role ID to clone from")
    kind = RoleType(source.role_type) if source is not None else role_type
    assert kind is not None
    if conn.execute(select(role.c.id).where(role.c.name == name, role.c.removed.is_(None))).first():
        raise ParamError(f"Role with name {name} already exists")
    new_id = conn.execute(
        insert(role).values(name=name, role_type=kind.value, description=description, is_public=is_public)
    ).inserted_primary_key
    assert new_id is not None
    if source is not None:
        for perm in conn.execute(select(role_permission).where(role_permission.c.role_id == source.id)):
            values = {k: v for k, v in perm._mapping.items() if k not in ("id", "uuid", "role_id")}
            conn.execute(insert(role_permission).values(role_id=new_id[0], **values))
    return to_role(conn.execute(select(role).where(role.c.id == new_id[0])).one())


def add_seed_role(conn: Connection, seed: SeedRole) -> None:
    """Insert a seeded role and its rules (first start only)."""
    role_id = conn.execute(
        insert(role).values(
            uuid=seed.uuid,
            name=seed.name,
            role_type=seed.role_type.value,
            description=seed.description,
            is_default=True,
        )
    ).inserted_primary_key
    assert role_id is not None
    for order, (rule, permission) in enumerate(seed.rules):
        conn.execute(
            insert(role_permission).values(role_id=role_id[0], rule=rule, permission=permission, sort_order=order)
        )


def list_roles(
    conn: Connection,
    caller: Caller,
    *,
    uuid: str | None = None,
    name: str | None = None,
    role_type: RoleType | None = None,
) -> list[Role]:
    """``listRoles``: root admins see all roles, others the public ones."""
    query = select(role).where(role.c.removed.is_(None)).order_by(role.c.id)
    if not caller.is_root_admin:
        query = query.where(role.c.is_public.is_(True))
    if uuid:
        query = query.where(role.c.uuid == uuid.lower())
    if name:
        query = query.where(role.c.name == name)
    if role_type:
        query = query.where(role.c.role_type == role_type.value)
    return [to_role(row) for row in conn.execute(query)]


def update_role(
    conn: Connection,
    caller: Caller,
    uuid: str,
    *,
    name: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> Role:
    """``updateRole``: rename, redescribe or publish/unpublish a role (not the built-in Admin)."""
    _require_root(caller)
    row = row_by_uuid(conn, role, uuid, "role")
    if row.uuid == ADMIN_ROLE_UUID:
        raise PermissionDeniedError("The default root admin role cannot be changed")
    changes = (("name", name), ("description", description), ("is_public", is_public))
    values = {k: v for k, v in changes if v is not None}
    if values:
        conn.execute(update(role).where(role.c.id == row.id).values(**values))
    return to_role(conn.execute(select(role).where(role.c.id == row.id)).one())


def delete_role(conn: Connection, caller: Caller, uuid: str) -> None:
    """``deleteRole``: default roles and roles still used by accounts cannot be deleted."""
    _require_root(caller)
    row = row_by_uuid(conn, role, uuid, "role")
    if row.is_default:
        raise PermissionDeniedError("Default roles cannot be deleted")
    in_use = conn.execute(select(account.c.id).where(account.c.role_id == row.id, account.c.removed.is_(None))).first()
    if in_use:
        raise ResourceInUseError(f"Role {row.name} is in use by accounts and cannot be deleted")
    conn.execute(delete(role_permission).where(role_permission.c.role_id == row.id))
    conn.execute(update(role).where(role.c.id == row.id).values(removed=utcnow()))


def _to_permission(row: Row[Any]) -> RolePermission:
    m = row._mapping
    return RolePermission(
        m["uuid"], m["role_uuid"], m["role_name"], m["rule"], m["permission"], m["description"], m["sort_order"]
    )


def _permission_query() -> Any:
    return (
        select(role_permission, role.c.uuid.label("role_uuid"), role.c.name.label("role_name"))
        .join(role, role.c.id == role_permission.c.role_id)
        .order_by(role_permission.c.sort_order, role_permission.c.id)
    )


def list_role_permissions(conn: Connection, caller: Caller, role_uuid: str | None = None) -> list[RolePermission]:
    """``listRolePermissions``: rules in evaluation order (root admins only)."""
    _require_root(caller)
    query = _permission_query()
    if role_uuid:
        query = query.where(role.c.uuid == role_uuid.lower())
    return [_to_permission(row) for row in conn.execute(query)]


def create_role_permission(
    conn: Connection, caller: Caller, role_uuid: str, rule: str, permission: str, *, description: str | None = None
) -> RolePermission:
    """``createRolePermission``: append a rule to a role (evaluated after the existing ones)."""
    _require_root(caller)
    if permission.lower() not in PERMISSIONS:
        raise ParamError("Invalid parameter permission, must be allow or deny")
    row = row_by_uuid(conn, role, role_uuid, "role")
    if row.uuid == ADMIN_ROLE_UUID:
        raise PermissionDeniedError("The default root admin role cannot be changed")
    last = conn.execute(
        select(func.max(role_permission.c.sort_order)).where(role_permission.c.role_id == row.id)
    ).scalar_one()
    perm_id = conn.execute(
        insert(role_permission).values(
            role_id=row.id,
            rule=validate_rule(rule),
            permission=permission.lower(),
            description=description,
            sort_order=(last + 1) if last is not None else 0,
        )
    ).inserted_primary_key
    assert perm_id is not None
    return _to_permission(conn.execute(_permission_query().where(role_permission.c.id == perm_id[0])).one())


def update_role_permission(
    conn: Connection,
    caller: Caller,
    role_uuid: str,
    *,
    rule_order: Sequence[str] | None = None,
    permission_uuid: str | None = None,
    permission: str | None = None,
) -> None:
    """``updateRolePermission``: reorder all rules of a role, or change one rule's permission."""
    _require_root(caller)
    row = row_by_uuid(conn, role, role_uuid, "role")
    if rule_order is not None:
        current = {
            r.uuid: r.id for r in conn.execute(select(role_permission).where(role_permission.c.role_id == row.id))
        }
        wanted = [u.lower() for u in rule_order]
        if sorted(wanted) != sorted(current):
            raise ParamError("Role permissions in the ruleorder must be all and only the role's permissions")
        for order, perm_uuid in enumerate(wanted):
            conn.execute(
                update(role_permission).where(role_permission.c.id == current[perm_uuid]).values(sort_order=order)
            )
    if permission_uuid is not None:
        if permission is None or permission.lower() not in PERMISSIONS:
            raise ParamError("Invalid parameter permission, must be allow or deny")
        conn.execute(
            update(role_permission)
            .where(role_permission.c.uuid == permission_uuid.lower(), role_permission.c.role_id == row.id)
            .values(permission=permission.lower())
        )


def delete_role_permission(conn: Connection, caller: Caller, permission_uuid: str) -> None:
    """``deleteRolePermission``."""
    _require_root(caller)
    perm = row_by_uuid(conn, role_permission, permission_uuid, "role permission")
    conn.execute(delete(role_permission).where(role_permission.c.id == perm.id))
