"""Affinity groups and instance groups, the two ways an account groups its VMs.

Affinity groups (``host anti-affinity``: members on different hosts; ``host affinity``: on one host)
are honoured by the allocator through ``affinity_group_vm_map`` (``services/compute/vms.py``
``affinity_hosts``). A VM changes groups only while Stopped, since placement happens at start.
Instance groups are labels: a VM is in at most one (``instance_group_vm_map.vm_id`` is unique).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from provisioner.db.schema import (
    account,
    affinity_group,
    affinity_group_vm_map,
    domain,
    instance_group,
    instance_group_vm_map,
    new_uuid,
    utcnow,
    vm_instance,
)
from provisioner.exceptions import ParamError
from provisioner.services.common import contains, list_page
from provisioner.services.compute.lifecycle.access import vm_by_uuid
from provisioner.services.compute.vms import AFFINITY, ANTI_AFFINITY
from provisioner.services.infrastructure.common import Row, get_live
from provisioner.services.principal import Caller
from provisioner.services.volumes.ownership import Owner, check_owner_access, list_scope, resolve_owner

#: ``listAffinityGroupTypes``, in CloudStack's order (Ansible picks the first when no type is given).
AFFINITY_TYPES = (ANTI_AFFINITY, AFFINITY)


def _owned(table: Table) -> Any:
    return (
        select(
            table,
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(account, account.c.id == table.c.account_id)
        .join(domain, domain.c.id == table.c.domain_id)
    )


def _owner_fields(m: RowMapping) -> Row:
    return {
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "domainpath": "ROOT" + m["domain_path"].rstrip("/"),
    }


def _insert_named(conn: Connection, table: Table, values: dict[str, Any], taken: str) -> int:
    """Insert a row whose name is unique per account; a concurrent twin loses with the same 431."""
    savepoint = conn.begin_nested()
    try:
        key = conn.execute(insert(table).values(**values)).inserted_primary_key
    except IntegrityError:
        savepoint.rollback()
        raise ParamError(taken) from None
    savepoint.commit()
    assert key is not None
    return int(key[0])


def _scope(conn: Connection, caller: Caller, table: Table, filters: dict[str, Any], by_id: bool) -> Any:
    return list_scope(
        conn,
        caller,
        table.c.account_id,
        table.c.domain_id,
        account_name=filters.get("account_name"),
        domain_uuid=filters.get("domainid"),
        listall=bool(filters.get("listall")),
        isrecursive=bool(filters.get("isrecursive")),
        by_id=by_id,
    )


# -- affinity groups ----------------------------------------------------------------------------


def affinity_group_row(m: RowMapping, vm_uuids: list[str]) -> Row:
    """An affinity group as ``AffinityGroupResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "type": m["type"],
        "description": m["description"],
        "virtualmachineIds": vm_uuids,
        **_owner_fields(m),
    }


def _members(conn: Connection, group_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = conn.execute(
        select(affinity_group_vm_map.c.affinity_group_id, vm_instance.c.uuid)
        .join(vm_instance, vm_instance.c.id == affinity_group_vm_map.c.vm_id)
        .where(affinity_group_vm_map.c.affinity_group_id.in_(group_ids), vm_instance.c.removed.is_(None))
        .order_by(affinity_group_vm_map.c.id)
    )
    members: dict[int, list[str]] = {}
    for group_id, uuid in rows:
        members.setdefault(group_id, []).append(uuid)
    return members


def _affinity_rows(conn: Connection, rows: Sequence[RowMapping]) -> list[Row]:
    members = _members(conn, [m["id"] for m in rows])
    return [affinity_group_row(m, members.get(m["id"], [])) for m in rows]


def list_affinity_group_types(conn: Connection, caller: Caller) -> list[Row]:
    """``listAffinityGroupTypes``: the group types the allocator honours."""
    return [{"type": kind} for kind in AFFINITY_TYPES]


def create_affinity_group(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    type: str,
    description: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
) -> Row:
    """Create an affinity group for the caller's (or, for admins, another) account.

    Raises:
        ParamError: an unknown type, or the account has a group of that name (431).
        PermissionDeniedError: the caller may not act for that account (531).
    """
    kind = next((k for k in AFFINITY_TYPES if k == type.strip().lower()), None)
    if kind is None:
        raise ParamError(
            f"Unable to create affinity group, invalid affinity group type {type}; use one of: "
            + ", ".join(AFFINITY_TYPES)
        )
    owner = resolve_owner(conn, caller, account_name, domainid)
    taken = f"Unable to create affinity group, a group with name {name} already exists."
    existing = select(affinity_group.c.id).where(
        affinity_group.c.account_id == owner.account_id, affinity_group.c.name == name
    )
    if conn.execute(existing).first() is not None:
        raise ParamError(taken)
    values = {
        "uuid": new_uuid(),
        "name": name,
        "type": kind,
        "description": description,
        "account_id": owner.account_id,
        "domain_id": owner.domain_id,
    }
    group_id = _insert_named(conn, affinity_group, values, taken)
    return _affinity_rows(
        conn, [conn.execute(_owned(affinity_group).where(affinity_group.c.id == group_id)).mappings().one()]
    )[0]


def _affinity_group(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None,
    name: str | None,
    account_name: str | None,
    domainid: str | None,
) -> RowMapping:
    if id:
        row = get_live(conn, affinity_group, id)
        check_owner_access(conn, caller, row["account_id"], row["domain_id"], f"affinity group {row['name']}")
        return row
    if not name:
        raise ParamError("Either the affinity group's id or name must be specified")
    owner: Owner = resolve_owner(conn, caller, account_name, domainid)
    found = (
        conn.execute(
            select(affinity_group).where(affinity_group.c.account_id == owner.account_id, affinity_group.c.name == name)
        )
        .mappings()
        .first()
    )
    if found is None:
        raise ParamError(f"Unable to find affinity group by name {name} for account {owner.account_name}")
    return found


def delete_affinity_group(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
) -> None:
    """Delete an affinity group (by id, or by name in an account); its VMs leave it."""
    row = _affinity_group(conn, caller, id=id, name=name, account_name=account_name, domainid=domainid)
    conn.execute(delete(affinity_group_vm_map).where(affinity_group_vm_map.c.affinity_group_id == row["id"]))
    conn.execute(delete(affinity_group).where(affinity_group.c.id == row["id"]))


def list_affinity_groups(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    type: str | None = None,
    virtualmachineid: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
    **owner_filters: Any,
) -> tuple[list[Row], int]:
    """The affinity groups the caller may see (``listAffinityGroups``)."""
    table = affinity_group
    conditions = [_scope(conn, caller, table, owner_filters, by_id=id is not None or virtualmachineid is not None)]
    if id:
        conditions.append(table.c.uuid == id.lower())
    if name:
        conditions.append(table.c.name == name)
    if type:
        conditions.append(table.c.type == type.strip().lower())
    if keyword:
        conditions.append(contains(table.c.name, keyword))
    if virtualmachineid:
        vm = vm_by_uuid(conn, caller, virtualmachineid)
        conditions.append(
            table.c.id.in_(
                select(affinity_group_vm_map.c.affinity_group_id).where(affinity_group_vm_map.c.vm_id == vm.id)
            )
        )
    rows, total = list_page(conn, _owned(table).where(*conditions), [table.c.id], page, pagesize)
    return _affinity_rows(conn, rows), total


def update_vm_affinity_groups(
    conn: Connection,
    caller: Caller,
    *,
    id: str,
    affinitygroupids: Sequence[str] | None = None,
    affinitygroupnames: Sequence[str] | None = None,
) -> int:
    """Replace a Stopped VM's affinity groups (``updateVMAffinityGroup``); returns the VM's id.

    Neither list (or an empty one) takes the VM out of every group.

    Raises:
        ParamError: both lists given, an unknown group, a group of another account, or a VM that
            is not Stopped (431).
    """
    if affinitygroupids is not None and affinitygroupnames is not None:
        raise ParamError("affinitygroupids parameter is mutually exclusive with affinitygroupnames parameter")
    vm = vm_by_uuid(conn, caller, id)
    if vm.state != "Stopped":
        raise ParamError(
            f"Unable to update affinity groups of the virtual machine {vm.instance_name} in state {vm.state}; "
            "make sure the virtual machine is stopped and not in an error state before updating."
        )
    wanted = [item for item in (affinitygroupids or affinitygroupnames or ()) if item]
    column = affinity_group.c.uuid if affinitygroupids is not None else affinity_group.c.name
    keys = [item.lower() for item in wanted] if affinitygroupids is not None else wanted
    found = conn.execute(
        select(affinity_group.c.id, column.label("key"), affinity_group.c.account_id).where(
            column.in_(keys), affinity_group.c.account_id == vm.account_id
        )
    ).all()
    missing = sorted(set(keys) - {row.key for row in found})
    if missing:
        raise ParamError(
            f"Unable to find affinity group {', '.join(missing)} of the VM's account; create it first "
            "(createAffinityGroup) or check listAffinityGroups"
        )
    conn.execute(delete(affinity_group_vm_map).where(affinity_group_vm_map.c.vm_id == vm.id))
    if found:
        conn.execute(insert(affinity_group_vm_map), [{"affinity_group_id": row.id, "vm_id": vm.id} for row in found])
    return int(vm.id)


# -- instance groups ----------------------------------------------------------------------------


def instance_group_row(m: RowMapping) -> Row:
    """An instance group as ``InstanceGroupResponse``."""
    return {"id": m["uuid"], "name": m["name"], "created": m["created"], **_owner_fields(m)}


def _one_instance_group(conn: Connection, group_id: int) -> Row:
    return instance_group_row(
        conn.execute(_owned(instance_group).where(instance_group.c.id == group_id)).mappings().one()
    )


def _taken(name: str, owner_name: str) -> str:
    return f"unable to create group, a group with name {name} already exists for account {owner_name}"


def create_instance_group(
    conn: Connection, caller: Caller, *, name: str, account_name: str | None = None, domainid: str | None = None
) -> Row:
    """Create an instance group (``createInstanceGroup``).

    Raises:
        ParamError: the account has a live group of that name (431).
    """
    owner = resolve_owner(conn, caller, account_name, domainid)
    existing = select(instance_group.c.id).where(
        instance_group.c.account_id == owner.account_id,
        instance_group.c.name == name,
        instance_group.c.removed.is_(None),
    )
    if conn.execute(existing).first() is not None:
        raise ParamError(_taken(name, owner.account_name))
    values = {"uuid": new_uuid(), "name": name, "account_id": owner.account_id, "domain_id": owner.domain_id}
    return _one_instance_group(conn, _insert_named(conn, instance_group, values, _taken(name, owner.account_name)))


def _instance_group(conn: Connection, caller: Caller, id: str) -> RowMapping:
    row = get_live(conn, instance_group, id)
    check_owner_access(conn, caller, row["account_id"], row["domain_id"], f"instance group {row['name']}")
    return row


def update_instance_group(conn: Connection, caller: Caller, id: str, *, name: str | None = None) -> Row:
    """Rename an instance group (``updateInstanceGroup``).

    Raises:
        ParamError: the account already has a group of the new name (431).
    """
    row = _instance_group(conn, caller, id)
    if name and name != row["name"]:
        clash = select(instance_group.c.id).where(
            instance_group.c.account_id == row["account_id"],
            instance_group.c.name == name,
            instance_group.c.removed.is_(None),
        )
        if conn.execute(clash).first() is not None:
            raise ParamError(f"Unable to update vm group, a group with name {name} already exists for account")
        conn.execute(update(instance_group).where(instance_group.c.id == row["id"]).values(name=name))
    return _one_instance_group(conn, row["id"])


def delete_instance_group(conn: Connection, caller: Caller, id: str) -> None:
    """Delete an instance group (``deleteInstanceGroup``); its VMs simply leave it."""
    row = _instance_group(conn, caller, id)
    conn.execute(delete(instance_group_vm_map).where(instance_group_vm_map.c.group_id == row["id"]))
    conn.execute(update(instance_group).where(instance_group.c.id == row["id"]).values(removed=utcnow()))


def list_instance_groups(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
    **owner_filters: Any,
) -> tuple[list[Row], int]:
    """The instance groups the caller may see (``listInstanceGroups``)."""
    table = instance_group
    conditions = [table.c.removed.is_(None), _scope(conn, caller, table, owner_filters, by_id=id is not None)]
    if id:
        conditions.append(table.c.uuid == id.lower())
    if name:
        conditions.append(table.c.name == name)
    if keyword:
        conditions.append(contains(table.c.name, keyword))
    rows, total = list_page(conn, _owned(table).where(*conditions), [table.c.id], page, pagesize)
    return [instance_group_row(m) for m in rows], total
