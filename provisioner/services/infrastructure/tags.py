"""Resource tags (``createTags``, ``deleteTags``, ``listTags``) and the helpers other areas list tags with.

Who may tag a resource depends on who owns it, which only the resource's area knows. Each area
registers an :data:`OwnerLookup` for its CloudStack resource type (``UserVm``, ``Volume``...) with
:func:`register_resource_type`; infrastructure and identity types are registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, and_, delete, insert, or_, select, true

from provisioner.db.schema import (
    account,
    disk_offering,
    domain,
    network_offering,
    os_type,
    resource_tag,
    service_offering,
    storage_pool,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.identity.visibility import account_pk, visible_condition
from provisioner.services.infrastructure.common import Row, contains, list_page
from provisioner.services.principal import Caller

#: Owners of resources by UUID: ``(account internal id, domain internal id)``; ``(None, None)`` = the system.
Owner = tuple[int | None, int | None]
OwnerLookup = Callable[[Connection, Sequence[str]], dict[str, Owner]]
_LOOKUPS: dict[str, OwnerLookup] = {}


def register_resource_type(name: str, lookup: OwnerLookup) -> None:
    """Let ``createTags``/``deleteTags`` act on resources of type ``name`` (CloudStack's spelling)."""
    _LOOKUPS[name] = lookup


def resource_type_name(value: str) -> str:
    """A registered resource type in its canonical spelling.

    Raises:
        ParamError: no area registered that type (431).
    """
    for name in _LOOKUPS:
        if name.lower() == value.strip().lower():
            return name
    raise ParamError(f"Invalid resource type: {value}")


def _system_owned(table: Table) -> OwnerLookup:
    def lookup(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
        query = select(table.c.uuid).where(table.c.uuid.in_(uuids), table.c.removed.is_(None))
        return dict.fromkeys(conn.execute(query).scalars(), (None, None))

    return lookup


def _accounts(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
    query = select(account.c.uuid, account.c.id, account.c.domain_id).where(
        account.c.uuid.in_(uuids), account.c.removed.is_(None)
    )
    return {uuid: (pk, domain_id) for uuid, pk, domain_id in conn.execute(query).tuples()}


def _domains(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
    query = select(domain.c.uuid, domain.c.id).where(domain.c.uuid.in_(uuids), domain.c.removed.is_(None))
    return {uuid: (None, pk) for uuid, pk in conn.execute(query).tuples()}


for _name, _table in (
    ("Zone", zone),
    ("Storage", storage_pool),
    ("ServiceOffering", service_offering),
    ("DiskOffering", disk_offering),
    ("NetworkOffering", network_offering),
    ("GuestOs", os_type),
):
    register_resource_type(_name, _system_owned(_table))
register_resource_type("Account", _accounts)
register_resource_type("Domain", _domains)


def _check_access(conn: Connection, caller: Caller, owner: Owner, uuid: str) -> None:
    if caller.is_root_admin:
        return
    account_id, domain_id = owner
    allowed = False
    if account_id is not None or domain_id is not None:
        mine = conn.execute(select(account_pk(caller))).scalar_one()
        if caller.is_domain_admin and domain_id is not None:
            path = conn.execute(select(domain.c.path).where(domain.c.id == domain_id)).scalar_one()
            allowed = str(path).startswith(caller.domain_path)
        else:
            allowed = account_id == mine
    if not allowed:
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to tag resource {uuid}")


def _owners(conn: Connection, caller: Caller, resourcetype: str, resourceids: Sequence[str]) -> dict[str, Owner]:
    kind = resource_type_name(resourcetype)
    wanted = [item.strip().lower() for item in resourceids if item.strip()]
    if not wanted:
        raise ParamError("Unable to execute API command createtags due to missing parameter resourceids")
    owners = _LOOKUPS[kind](conn, wanted)
    for uuid in wanted:
        if uuid not in owners:
            raise ParamError(f"Unable to find resource by id {uuid} and type {kind}")
        _check_access(conn, caller, owners[uuid], uuid)
    return owners


def create_tags(
    conn: Connection,
    caller: Caller,
    *,
    resourceids: Sequence[str],
    resourcetype: str,
    tags: Sequence[Mapping[str, str]],
    customer: str | None = None,
) -> None:
    """Tag resources (``createTags``); ``tags`` are the unpacked ``tags[i].key/value`` entries.

    Raises:
        ParamError: unknown type or resource, an empty key, or a key the resource has already.
        PermissionDeniedError: the caller may not act on a resource.
    """
    kind = resource_type_name(resourcetype)
    owners = _owners(conn, caller, kind, resourceids)
    pairs = [(entry.get("key", ""), entry.get("value", "")) for entry in tags]
    if not pairs or any(not key for key, _ in pairs):
        raise ParamError("Unable to execute API command createtags due to missing parameter tags[].key")
    existing = set(
        conn.execute(
            select(resource_tag.c.resource_uuid, resource_tag.c.key).where(
                resource_tag.c.resource_type == kind,
                resource_tag.c.resource_uuid.in_(list(owners)),
                resource_tag.c.key.in_([key for key, _ in pairs]),
            )
        ).tuples()
    )
    me = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.uuid == caller.account_id)).one()
    rows = []
    for uuid, (owner_account, owner_domain) in owners.items():
        for key, value in pairs:
            if (uuid, key) in existing:
                raise ParamError(f"A tag with key {key} already exists on {kind} {uuid}")
            rows.append(
                {
                    "key": key,
                    "value": value,
                    "resource_type": kind,
                    "resource_uuid": uuid,
                    # System resources carry the tagging admin's account, as CloudStack records the caller.
                    "account_id": owner_account if owner_account is not None else me.id,
                    "domain_id": owner_domain if owner_domain is not None else me.domain_id,
                    "customer": customer,
                }
            )
    conn.execute(insert(resource_tag), rows)


def delete_tags(
    conn: Connection,
    caller: Caller,
    *,
    resourceids: Sequence[str],
    resourcetype: str,
    tags: Sequence[Mapping[str, str]] | None = None,
) -> None:
    """Remove tags (``deleteTags``): the given keys (and values, when given), or every tag of the resources."""
    kind = resource_type_name(resourcetype)
    owners = _owners(conn, caller, kind, resourceids)
    query = delete(resource_tag).where(
        resource_tag.c.resource_type == kind, resource_tag.c.resource_uuid.in_(list(owners))
    )
    if tags:
        matches = [
            and_(resource_tag.c.key == entry["key"], resource_tag.c.value == entry["value"])
            if entry.get("value")
            else resource_tag.c.key == entry.get("key", "")
            for entry in tags
        ]
        query = query.where(or_(*matches))
    conn.execute(query)


def tag_row(m: RowMapping) -> Row:
    """A tag as ``ResourceTagResponse``."""
    return {
        "key": m["key"],
        "value": m["value"],
        "resourcetype": m["resource_type"],
        "resourceid": m["resource_uuid"],
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "customer": m["customer"],
    }


def _select() -> Any:
    return (
        select(
            resource_tag,
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
        )
        .outerjoin(account, account.c.id == resource_tag.c.account_id)
        .outerjoin(domain, domain.c.id == resource_tag.c.domain_id)
    )


def list_tags(
    conn: Connection,
    caller: Caller,
    *,
    resourcetype: str | None = None,
    resourceid: str | None = None,
    key: str | None = None,
    value: str | None = None,
    customer: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List the tags the caller may see (``listTags``)."""
    conditions = [visible_condition(caller, resource_tag.c.account_id, resource_tag.c.domain_id)]
    if resourcetype:
        conditions.append(resource_tag.c.resource_type == resource_type_name(resourcetype))
    if resourceid:
        conditions.append(resource_tag.c.resource_uuid == resourceid.lower())
    for given, column in (
        (key, resource_tag.c.key),
        (value, resource_tag.c.value),
        (customer, resource_tag.c.customer),
    ):
        if given is not None:
            conditions.append(column == given)
    if keyword:
        conditions.append(or_(contains(resource_tag.c.key, keyword), contains(resource_tag.c.value, keyword)))
    rows, total = list_page(conn, _select().where(*conditions), [resource_tag.c.id], page, pagesize)
    return [tag_row(m) for m in rows], total


def tags_by_resource(conn: Connection, resourcetype: str, uuids: Sequence[str]) -> dict[str, list[Row]]:
    """The tags of a page of resources, keyed by resource UUID, in one statement (for ``tags[]`` fields)."""
    if not uuids:
        return {}
    query = _select().where(
        resource_tag.c.resource_type == resourcetype, resource_tag.c.resource_uuid.in_([u.lower() for u in uuids])
    )
    result: dict[str, list[Row]] = {}
    for m in conn.execute(query.order_by(resource_tag.c.id)).mappings():
        result.setdefault(m["resource_uuid"], []).append(tag_row(m))
    return result


def tagged_with(resourcetype: str, uuid_column: Any, tags: Sequence[Mapping[str, str]]) -> ColumnElement[bool]:
    """A list filter for ``tags[i].key=..&tags[i].value=..``: resources carrying every given tag."""
    conditions = []
    for entry in tags:
        match = select(resource_tag.c.resource_uuid).where(
            resource_tag.c.resource_type == resourcetype, resource_tag.c.key == entry.get("key", "")
        )
        if entry.get("value") is not None:
            match = match.where(resource_tag.c.value == entry["value"])
        conditions.append(uuid_column.in_(match))
    return and_(true(), *conditions)
