"""Resource tags (``createTags``, ``deleteTags``, ``listTags``) and the helpers other areas list tags with.

A tag belongs to the account that created it and is seen like any account resource (visibility
conditions). Which resources can be tagged, and who may tag them, depends on who owns them, which only
the resource's area knows: each area registers its CloudStack resource types with
:func:`register_resource_type`. Identity and infrastructure types are registered at the end of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, Table, and_, delete, insert, or_, select, true

from provisioner.db.schema import (
    account,
    cluster,
    disk_offering,
    domain,
    host,
    image_store,
    network_offering,
    os_type,
    physical_network,
    pod,
    resource_tag,
    service_offering,
    storage_pool,
    user,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import list_page, live_uuids
from provisioner.services.identity.visibility import account_pk, can_manage_domain, visible_condition
from provisioner.services.infrastructure.common import Row
from provisioner.services.principal import Caller

#: The owner of a resource: ``(account internal id, domain internal id)``; ``(None, None)`` is the system.
Owner = tuple[int | None, int | None]
#: The owners of the live resources among some (lower-case) UUIDs; unknown UUIDs are left out.
OwnerLookup = Callable[[Connection, Sequence[str]], dict[str, Owner]]
SYSTEM: Owner = (None, None)

_LOOKUPS: dict[str, OwnerLookup] = {}


def register_resource_type(name: str, lookup: OwnerLookup) -> None:
    """Let ``createTags``/``deleteTags``/``listTags`` act on resources of one type.

    This is the one entry point for an area to make its resources taggable, e.g.
    ``register_resource_type("UserVm", vm_owners)`` at import of the area's service module.

    Args:
        name: CloudStack's ``ResourceObjectType`` spelling (matched case-insensitively on the wire).
        lookup: the owners of live resources by UUID. Resources owned by :data:`SYSTEM` may be tagged
            by root admins only; others by their account and the admins of their domain.
    """
    _LOOKUPS[name] = lookup


def system_owned(table: Table) -> OwnerLookup:
    """An :data:`OwnerLookup` for a table of system resources (zones, offerings...): live rows, no owner."""

    def lookup(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
        return dict.fromkeys(live_uuids(conn, table, uuids), SYSTEM)

    return lookup


def _accounts(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
    query = select(account.c.uuid, account.c.id, account.c.domain_id).where(
        account.c.uuid.in_(list(uuids)), account.c.removed.is_(None)
    )
    return {uuid: (pk, domain_id) for uuid, pk, domain_id in conn.execute(query).tuples()}


def resource_type_name(value: str) -> str:
    """A registered resource type in its canonical spelling.

    Raises:
        ParamError: no area registered that type (431).
    """
    for name in _LOOKUPS:
        if name.lower() == value.strip().lower():
            return name
    raise ParamError(f"Invalid resource type {value}")


def _check_access(conn: Connection, caller: Caller, kind: str, owner: Owner, uuid: str) -> None:
    if caller.is_root_admin:
        return
    if owner == SYSTEM:
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to tag {kind} resources")
    account_id, domain_id = owner
    mine = conn.execute(select(account_pk(caller))).scalar_one()
    path = conn.execute(select(domain.c.path).where(domain.c.id == domain_id)).scalar_one_or_none()
    if account_id != mine and not (path is not None and can_manage_domain(caller, str(path))):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to tag resource {uuid}")


def _owners(conn: Connection, caller: Caller, kind: str, resourceids: Sequence[str]) -> dict[str, Owner]:
    wanted = [item.strip().lower() for item in resourceids if item.strip()]
    if not wanted:
        raise ParamError("Unable to execute API command createtags due to missing parameter resourceids")
    owners = _LOOKUPS[kind](conn, wanted)
    for uuid in wanted:
        if uuid not in owners:
            raise ParamError(f"Unable to find resource by id {uuid} and type {kind}")
    for uuid in wanted:
        _check_access(conn, caller, kind, owners[uuid], uuid)
    return {uuid: owners[uuid] for uuid in wanted}


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

    The tags belong to the caller's account, as CloudStack records who tagged.

    Raises:
        ParamError: unknown type or resource, an empty key, or a key the resource has already.
        PermissionDeniedError: the caller may not act on a resource.
    """
    kind = resource_type_name(resourcetype)
    owners = _owners(conn, caller, kind, resourceids)
    pairs = [(entry.get("key", ""), entry.get("value", "")) for entry in tags]
    if not pairs or any(not key for key, _ in pairs):
        raise ParamError("Unable to execute API command createtags due to missing parameter tags")
    taken = set(
        conn.execute(
            select(resource_tag.c.resource_uuid, resource_tag.c.key).where(
                resource_tag.c.resource_type == kind,
                resource_tag.c.resource_uuid.in_(list(owners)),
                resource_tag.c.key.in_([key for key, _ in pairs]),
            )
        ).tuples()
    )
    caller_domain = select(domain.c.id).where(domain.c.uuid == caller.domain_id).scalar_subquery()
    me = conn.execute(select(account_pk(caller), caller_domain)).one()
    rows = []
    for uuid in owners:
        for key, value in pairs:
            if (uuid, key) in taken:
                raise ParamError(f"A tag with key {key} already exists on {kind} {uuid}")
            taken.add((uuid, key))
            rows.append(
                {
                    "key": key,
                    "value": value,
                    "resource_type": kind,
                    "resource_uuid": uuid,
                    "account_id": me[0],
                    "domain_id": me[1],
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
    """Remove tags the caller may see (``deleteTags``): the given keys (and values, when given), or every tag.

    Raises:
        ParamError: unknown type or resource.
        PermissionDeniedError: the caller may not act on a resource.
    """
    kind = resource_type_name(resourcetype)
    owners = _owners(conn, caller, kind, resourceids)
    query = delete(resource_tag).where(
        resource_tag.c.resource_type == kind,
        resource_tag.c.resource_uuid.in_(list(owners)),
        visible_condition(caller, resource_tag.c.account_id, resource_tag.c.domain_id),
    )
    if tags:
        matches = [
            and_(resource_tag.c.key == entry.get("key", ""), resource_tag.c.value == entry["value"])
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
        "domainpath": "ROOT" + m["domain_path"].rstrip("/") if m["domain_path"] else None,
        "customer": m["customer"],
    }


def _select() -> Any:
    return (
        select(
            resource_tag,
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
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
    """The tags the caller may see (``listTags``), as wire rows; returns (one page, total count)."""
    conditions = [visible_condition(caller, resource_tag.c.account_id, resource_tag.c.domain_id)]
    if resourcetype:
        conditions.append(resource_tag.c.resource_type == resource_type_name(resourcetype))
    for column, wanted in (
        (resource_tag.c.resource_uuid, resourceid.lower() if resourceid else None),
        (resource_tag.c.key, key),
        (resource_tag.c.value, value),
        (resource_tag.c.customer, customer),
    ):
        if wanted:
            conditions.append(column == wanted)
    if keyword:
        conditions.append(resource_tag.c.key.contains(keyword, autoescape=True))
    rows, total = list_page(conn, _select().where(*conditions), [resource_tag.c.id], page, pagesize)
    return [tag_row(m) for m in rows], total


def tags_query(resourcetype: str, uuids: Select[Any]) -> Select[Any]:
    """The tags of the resources whose UUIDs ``uuids`` selects, as :func:`tags_by_query` reads them.

    Build it once where it runs often (with bind parameters in ``uuids``): building costs more than running.
    """
    query: Select[Any] = _select().where(
        resource_tag.c.resource_type == resourcetype, resource_tag.c.resource_uuid.in_(uuids)
    )
    return query.order_by(resource_tag.c.id)


def tags_by_query(
    conn: Connection, query: Select[Any], params: Mapping[str, Any] | None = None
) -> dict[str, list[Row]]:
    """Run a :func:`tags_query`: the tags keyed by resource UUID (for ``tags[]`` fields)."""
    result: dict[str, list[Row]] = {}
    for m in conn.execute(query, params).mappings():
        result.setdefault(m["resource_uuid"], []).append(tag_row(m))
    return result


def tags_by_resource(conn: Connection, resourcetype: str, uuids: Sequence[str] | Select[Any]) -> dict[str, list[Row]]:
    """The tags of a page of resources, keyed by resource UUID, in one statement (for ``tags[]`` fields).

    ``uuids``: the resources' UUIDs, or a query selecting them (a page of 500 then costs no 500 parameters).
    """
    if not isinstance(uuids, Select) and not uuids:
        return {}
    if isinstance(uuids, Select):
        return tags_by_query(conn, tags_query(resourcetype, uuids))
    chosen = [u.lower() for u in uuids]
    query = _select().where(resource_tag.c.resource_type == resourcetype, resource_tag.c.resource_uuid.in_(chosen))
    return tags_by_query(conn, query.order_by(resource_tag.c.id))


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


register_resource_type("Account", _accounts)
# Domains and users are tagged by root admins only, as are the system's infrastructure and offerings.
for _name, _table in (
    ("Domain", domain),
    ("User", user),
    ("Zone", zone),
    ("Pod", pod),
    ("Cluster", cluster),
    ("Host", host),
    ("StoragePool", storage_pool),
    ("Storage", storage_pool),  # CloudStack's ResourceObjectType name for primary storage
    ("ImageStore", image_store),
    ("PhysicalNetwork", physical_network),
    ("ServiceOffering", service_offering),
    ("DiskOffering", disk_offering),
    ("NetworkOffering", network_offering),
    ("GuestOs", os_type),
):
    register_resource_type(_name, system_owned(_table))
