"""Resource limits and counts of accounts and domains (``listResourceLimits``, ``updateResourceLimit``,
``updateResourceCount``) and the check creations make (:func:`check_resource_limit`).

As CloudStack's ``ResourceLimitManagerImpl``: twelve resource types (``Resource.ResourceType`` ordinals 0-11); an
account's limit is its explicit ``resource_limit`` row, else the ``max.account.*`` setting; a domain's is its row,
else ``max.domain.*``; the ROOT domain and root-admin accounts are unlimited (-1). Counts are computed from the
resources themselves (what ``updateResourceCount`` recalculates in CloudStack), so they cannot drift. A creation
that would pass an account's limit, or that of any domain above it below ROOT, fails with
``ResourceAllocationException`` (535) and CloudStack's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, insert, select, update

from provisioner.db.schema import (
    account,
    configuration,
    domain,
    guest_network,
    resource_limit,
    snapshot,
    vm_instance,
    vm_template,
    volume,
)
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceAllocationError
from provisioner.services.identity.visibility import can_manage_domain
from provisioner.services.principal import Caller

GIB = 1 << 30
UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One ``Resource.ResourceType``: ordinal, name, the settings with its defaults, and whether it is in GiB."""

    ordinal: int
    name: str
    setting: str  # the suffix of max.account.<setting> and max.domain.<setting>
    account_default: int
    domain_default: int
    storage: bool = False


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(0, "user_vm", "user.vms", 20, 40),
    ResourceType(1, "public_ip", "public.ips", 20, 40),
    ResourceType(2, "volume", "volumes", 20, 40),
    ResourceType(3, "snapshot", "snapshots", 20, 40),
    ResourceType(4, "template", "templates", 20, 40),
    ResourceType(5, "project", "projects", 20, 50),
    ResourceType(6, "network", "networks", 20, 40),
    ResourceType(7, "vpc", "vpcs", 20, 40),
    ResourceType(8, "cpu", "cpus", 40, 80),
    ResourceType(9, "memory", "memory", 40960, 81920),
    ResourceType(10, "primary_storage", "primary.storage", 200, 400, storage=True),
    ResourceType(11, "secondary_storage", "secondary.storage", 400, 800, storage=True),
)
BY_NAME = {kind.name: kind for kind in RESOURCE_TYPES}

#: VM states that no longer hold resources (CloudStack decrements the counts on destroy).
_GONE_VM_STATES = ("Destroyed", "Expunging", "Error")
_GONE_VOLUME_STATES = ("Destroy", "Expunging", "Expunged")


def resource_type(value: int | str) -> ResourceType:
    """A type by ordinal or name.

    Raises:
        ParamError: not one of the twelve (431, CloudStack's text).
    """
    text = str(value).strip()
    if text.isdigit() and int(text) < len(RESOURCE_TYPES):
        return RESOURCE_TYPES[int(text)]
    if text in BY_NAME:
        return BY_NAME[text]
    raise ParamError("Please specify a valid resource type.")


# -- counts ---------------------------------------------------------------------------------


def _live(table: Any) -> ColumnElement[bool]:
    return table.c.removed.is_(None)  # type: ignore[no-any-return]


def _counting(kind: ResourceType) -> tuple[Any, Any, Sequence[ColumnElement[bool]]] | None:
    """(table, measure, conditions) counting ``kind`` per account; None for types nothing here creates."""
    vm_live = (_live(vm_instance), vm_instance.c.type == "User", vm_instance.c.state.not_in(_GONE_VM_STATES))
    volume_live = (_live(volume), volume.c.state.not_in(_GONE_VOLUME_STATES))
    return {
        "user_vm": (vm_instance, func.count(), vm_live),
        "volume": (volume, func.count(), volume_live),
        "snapshot": (snapshot, func.count(), (_live(snapshot), snapshot.c.state != "Destroyed")),
        "template": (vm_template, func.count(), (_live(vm_template), vm_template.c.type == "USER")),
        "network": (guest_network, func.count(), (_live(guest_network),)),
        "cpu": (vm_instance, func.coalesce(func.sum(vm_instance.c.cpu_number), 0), vm_live),
        "memory": (vm_instance, func.coalesce(func.sum(vm_instance.c.memory), 0), vm_live),
        "primary_storage": (volume, func.coalesce(func.sum(volume.c.size), 0), volume_live),
    }.get(kind.name)


def _secondary(owner: ColumnElement[bool], table: Any) -> Any:
    size = func.coalesce(func.sum(func.coalesce(table.c.physical_size, table.c.size, 0)), 0)
    return select(size).where(_live(table), owner)


def counts(conn: Connection, account_ids: Sequence[int] | Select[Any]) -> dict[str, int]:
    """Every type's count over the given accounts (one account, or all of a domain subtree)."""
    result: dict[str, int] = {}
    for kind in RESOURCE_TYPES:
        if kind.name == "secondary_storage":
            total = 0
            for table in (vm_template, snapshot):  # templates and ISOs share vm_template
                total += int(conn.execute(_secondary(table.c.account_id.in_(account_ids), table)).scalar_one())
            result[kind.name] = total
            continue
        counting = _counting(kind)
        if counting is None:
            result[kind.name] = 0
            continue
        table, measure, conditions = counting
        query = select(measure).where(table.c.account_id.in_(account_ids), *conditions)
        result[kind.name] = int(conn.execute(query).scalar_one())
    return result


def count_of(conn: Connection, account_ids: Sequence[int] | Select[Any], kind: ResourceType) -> int:
    """One type's count over the given accounts."""
    if kind.name == "secondary_storage":
        return counts(conn, account_ids)[kind.name]
    counting = _counting(kind)
    if counting is None:
        return 0
    table, measure, conditions = counting
    return int(conn.execute(select(measure).where(table.c.account_id.in_(account_ids), *conditions)).scalar_one())


# -- limits ---------------------------------------------------------------------------------


def _defaults(conn: Connection, level: str) -> dict[int, int]:
    """Every type's ``max.<level>.*`` setting in one statement, the built-in default where unset or unreadable."""
    names = {f"max.{level}.{kind.setting}": kind for kind in RESOURCE_TYPES}
    rows = conn.execute(
        select(configuration.c.name, configuration.c.value).where(
            configuration.c.name.in_(names), configuration.c.scope_id == 0
        )
    )
    stored = {names[name]: value for name, value in rows}
    defaults = {}
    for kind in RESOURCE_TYPES:
        built_in = kind.account_default if level == "account" else kind.domain_default
        try:
            defaults[kind.ordinal] = int(float(stored[kind])) if stored.get(kind) is not None else built_in
        except ValueError:
            defaults[kind.ordinal] = built_in
    return defaults


def _explicit(conn: Connection, column: Any, owner_id: int) -> dict[int, int]:
    rows = conn.execute(select(resource_limit.c.type, resource_limit.c.max).where(column == owner_id))
    return {int(kind): int(maximum) for kind, maximum in rows}


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account as the limits need it."""

    id: int
    uuid: str
    name: str
    type: int
    domain_id: int
    domain_uuid: str
    domain_name: str
    domain_path: str


@dataclass(frozen=True, slots=True)
class DomainRef:
    """A domain as the limits need it."""

    id: int
    uuid: str
    name: str
    path: str
    parent_id: int | None


def _account_query() -> Any:
    return select(
        account.c.id,
        account.c.uuid,
        account.c.name,
        account.c.type,
        domain.c.id,
        domain.c.uuid,
        domain.c.name,
        domain.c.path,
    ).join(domain, domain.c.id == account.c.domain_id)


#: Built once: every deployment checks its owner's limits.
_ACCOUNT_BY_ID = _account_query().where(account.c.id == bindparam("account"))


def account_by_id(conn: Connection, account_id: int) -> AccountRef:
    """An account by internal id."""
    return AccountRef(*conn.execute(_ACCOUNT_BY_ID, {"account": account_id}).one())


def _domain(conn: Connection, condition: ColumnElement[bool]) -> DomainRef | None:
    row = conn.execute(
        select(domain.c.id, domain.c.uuid, domain.c.name, domain.c.path, domain.c.parent_id).where(
            condition, domain.c.removed.is_(None)
        )
    ).first()
    return DomainRef(*row) if row is not None else None


def account_limits(conn: Connection, ref: AccountRef) -> dict[int, int]:
    """Every type's limit of an account: root admins unlimited, else the explicit row or ``max.account.*``."""
    if ref.type == 1:
        return {kind.ordinal: UNLIMITED for kind in RESOURCE_TYPES}
    return _defaults(conn, "account") | _explicit(conn, resource_limit.c.account_id, ref.id)


def domain_limits(conn: Connection, ref: DomainRef) -> dict[int, int]:
    """Every type's limit of a domain: ROOT unlimited, else the explicit row or ``max.domain.*``."""
    if ref.parent_id is None:
        return {kind.ordinal: UNLIMITED for kind in RESOURCE_TYPES}
    return _defaults(conn, "domain") | _explicit(conn, resource_limit.c.domain_id, ref.id)


def _subtree_accounts(ref: DomainRef) -> Select[Any]:
    """SQL: the ids of the accounts in a domain's subtree (a subquery: a large domain sends no id list)."""
    query = select(account.c.id).join(domain, domain.c.id == account.c.domain_id)
    return query.where(account.c.removed.is_(None), domain.c.path.startswith(ref.path, autoescape=True))


def _exceeded(kind: ResourceType, limit: int, current: int, requested: int) -> bool:
    if limit == UNLIMITED:
        return False
    return current + requested > (limit * GIB if kind.storage else limit)


def check_resource_limit(conn: Connection, account_id: int, kind: ResourceType | str, requested: int = 1) -> None:
    """Refuse a creation that would take an account, or a domain above it (below ROOT), past its limit.

    Args:
        conn: the connection of the creating transaction (call it before inserting).
        account_id: the owning account's internal id.
        kind: the resource type (or its name: ``user_vm``, ``volume``, ``cpu``, ``primary_storage``...).
        requested: how much the creation adds (1 for a count; cores, MiB or bytes for the others).

    Raises:
        ResourceAllocationError: 535, CloudStack's "Maximum number of resources of type ..." text.
    """
    check_resource_limits(conn, account_id, {kind.name if isinstance(kind, ResourceType) else kind: requested})


def check_resource_limits(conn: Connection, account_id: int, requests: Mapping[str, int]) -> None:
    """:func:`check_resource_limit` for several types of one creation (a VM: count, cores, memory, disks).

    The account and its domains are read once; a root admin's creation costs one statement.

    Raises:
        ResourceAllocationError: 535 for the first type past a limit, in the order given.
    """
    ref = account_by_id(conn, account_id)
    wanted = [(BY_NAME[name], amount) for name, amount in requests.items() if amount > 0]
    if ref.type == 1 or not wanted:
        return
    limits = account_limits(conn, ref)
    for kind, requested in wanted:
        limit = limits[kind.ordinal]
        if limit != UNLIMITED and _exceeded(kind, limit, count_of(conn, [ref.id], kind), requested):
            raise ResourceAllocationError(
                f"Maximum number of resources of type '{kind.name}' for account name={ref.name} in domain "
                f"id={ref.domain_uuid} has been exceeded."
            )
    current: DomainRef | None = _domain(conn, domain.c.id == ref.domain_id)
    while current is not None and current.parent_id is not None:
        limits = domain_limits(conn, current)
        for kind, requested in wanted:
            limit = limits[kind.ordinal]
            subtree = _subtree_accounts(current)
            if limit != UNLIMITED and _exceeded(kind, limit, count_of(conn, subtree, kind), requested):
                raise ResourceAllocationError(
                    f"Maximum number of resources of type '{kind.name}' for domain id={current.uuid} has been exceeded."
                )
        current = _domain(conn, domain.c.id == current.parent_id)


# -- the API's operations ---------------------------------------------------------------------


def _target(
    conn: Connection, caller: Caller, account_name: str | None, domain_uuid: str | None
) -> tuple[AccountRef | None, DomainRef]:
    """The account (``account`` + ``domainid``) or domain (``domainid``) named, else the caller's account."""
    if domain_uuid:
        found = _domain(conn, domain.c.uuid == domain_uuid.lower())
        if found is None:
            raise ParamError(f"Unable to find domain by id {domain_uuid}")
        if not can_manage_domain(caller, found.path) and not (account_name is None and found.uuid == caller.domain_id):
            raise PermissionDeniedError(
                f"Account {caller.account_name} does not have permission to operate within domain id={domain_uuid}"
            )
        if not account_name:
            return None, found
        row = conn.execute(
            _account_query().where(
                account.c.name == account_name, account.c.domain_id == found.id, account.c.removed.is_(None)
            )
        ).first()
        if row is None:
            raise ParamError(f"Unable to find account by name {account_name} in domain with id {found.uuid}")
        ref = AccountRef(*row)
    else:
        if account_name:
            raise ParamError("Account name is specified without domain id; pass domainid too")
        ref = AccountRef(*conn.execute(_account_query().where(account.c.uuid == caller.account_id)).one())
    if (
        not caller.is_root_admin
        and ref.uuid != caller.account_id
        and not (caller.is_domain_admin and can_manage_domain(caller, ref.domain_path))
    ):
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to access account {ref.name}"
        )
    return ref, DomainRef(ref.domain_id, ref.domain_uuid, ref.domain_name, ref.domain_path, None)


def _limit_row(kind: ResourceType, maximum: int, ref: AccountRef | None, dom: DomainRef) -> dict[str, Any]:
    row: dict[str, Any] = {
        "resourcetype": str(kind.ordinal),
        "resourcetypename": kind.name,
        "max": maximum,
        "domainid": dom.uuid,
        "domain": dom.name,
        "domainpath": "ROOT" + dom.path.rstrip("/") if dom.path != "/" else "ROOT",
    }
    if ref is not None:
        row["account"] = ref.name
    return row


def list_resource_limits(
    conn: Connection,
    caller: Caller,
    *,
    account_name: str | None = None,
    domain_uuid: str | None = None,
    resourcetype: str | None = None,
    resourcetypename: str | None = None,
) -> list[dict[str, Any]]:
    """``listResourceLimits``: the limits of the named account or domain (the caller's account by default)."""
    ref, dom = _target(conn, caller, account_name, domain_uuid)
    if ref is not None:
        limits = account_limits(conn, ref)
    else:
        found = _domain(conn, domain.c.id == dom.id)
        assert found is not None
        dom, limits = found, domain_limits(conn, found)
    wanted = [resource_type(value) for value in (resourcetype, resourcetypename) if value not in (None, "")]
    kinds = [kind for kind in RESOURCE_TYPES if all(kind == chosen for chosen in wanted)]
    return [_limit_row(kind, limits[kind.ordinal], ref, dom) for kind in kinds]


def update_resource_limit(
    conn: Connection,
    caller: Caller,
    *,
    resourcetype: int,
    maximum: int | None,
    account_name: str | None = None,
    domain_uuid: str | None = None,
) -> dict[str, Any]:
    """``updateResourceLimit``: set (or with no ``max``, reset to unlimited) one limit of an account or domain.

    Raises:
        PermissionDeniedError: the caller is not an admin over the target, or changes its own limits.
        ParamError: a bad type or a maximum below -1.
    """
    kind = resource_type(resourcetype)
    maximum = UNLIMITED if maximum is None else int(maximum)
    if maximum < UNLIMITED:
        raise ParamError("Please specify either '-1' for an infinite limit, or a limit that is at least '0'.")
    if maximum >= 1 << 63:
        raise ParamError(f"Invalid max value {maximum}: it must be a 64-bit number")
    if not (caller.is_root_admin or caller.is_domain_admin):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to update resource limits")
    ref, dom = _target(conn, caller, account_name, domain_uuid)
    if ref is not None:
        if ref.type == 1:
            raise ParamError(f"Can't update system or root admin account's resource limits: {ref.name}")
        if not caller.is_root_admin and ref.uuid == caller.account_id:
            raise PermissionDeniedError("Account does not have permission to change its own resource limits")
        column, owner_id = resource_limit.c.account_id, ref.id
    else:
        found = _domain(conn, domain.c.id == dom.id)
        assert found is not None
        if found.parent_id is None:
            raise ParamError("Cannot update resource limit for ROOT domain")
        if not caller.is_root_admin and found.uuid == caller.domain_id:
            raise PermissionDeniedError("Domain admin cannot change the resource limits of its own domain")
        dom, column, owner_id = found, resource_limit.c.domain_id, found.id
    changed = conn.execute(
        update(resource_limit).where(column == owner_id, resource_limit.c.type == kind.ordinal).values(max=maximum)
    ).rowcount
    if not changed:
        values = {"type": kind.ordinal, "max": maximum, column.name: owner_id}
        conn.execute(insert(resource_limit).values(**values))
    return _limit_row(kind, maximum, ref, dom)


def update_resource_count(
    conn: Connection,
    caller: Caller,
    *,
    domain_uuid: str,
    account_name: str | None = None,
    resourcetype: int | None = None,
) -> list[dict[str, Any]]:
    """``updateResourceCount``: the recalculated counts of an account, or of a domain's whole subtree."""
    if not (caller.is_root_admin or caller.is_domain_admin):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to update resource counts")
    ref, dom = _target(conn, caller, account_name, domain_uuid)
    if ref is not None:
        ids: Sequence[int] | Select[Any] = [ref.id]
    else:
        found = _domain(conn, domain.c.id == dom.id)
        assert found is not None
        dom, ids = found, _subtree_accounts(found)
    figures = counts(conn, ids)
    kinds = RESOURCE_TYPES if resourcetype is None else (resource_type(resourcetype),)
    rows = []
    for kind in kinds:
        row: dict[str, Any] = {
            "resourcetype": str(kind.ordinal),
            "resourcetypename": kind.name,
            "resourcecount": figures[kind.name],
            "domainid": dom.uuid,
            "domain": dom.name,
        }
        if ref is not None:
            row["account"] = ref.name
        rows.append(row)
    return rows
