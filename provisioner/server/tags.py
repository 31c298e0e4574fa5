"""Resource tags (``createTags``, ``deleteTags``, ``listTags``) over the ``resource_tag`` table.

A tag belongs to the account that created it and is seen like any account resource (visibility
conditions). Who may tag a resource type is decided by the check its area registers in :data:`TAG_CHECKS`
(e.g. "the caller owns these VMs"); types without one are root-admin only, the safe default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from provisioner.db.schema import account, domain, resource_tag
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.server.backend import existing
from provisioner.services.identity.common import count_of, paginate
from provisioner.services.identity.visibility import account_pk, check_account_access, visible_condition
from provisioner.services.principal import Caller

#: Checks that ``caller`` may tag these resources (raise ``PermissionDeniedError`` otherwise).
TagCheck = Callable[[Connection, Caller, Sequence[str]], None]

#: CloudStack ``ResourceObjectType`` names (matched case-insensitively) to the entity kinds of their ids.
RESOURCE_TYPES: dict[str, str] = {
    "Account": "Account",
    "Domain": "Domain",
    "User": "User",
    "Zone": "Zone",
    "Pod": "Pod",
    "Cluster": "Cluster",
    "Host": "Host",
    "StoragePool": "StoragePool",
    "ImageStore": "ImageStore",
    "PhysicalNetwork": "PhysicalNetwork",
    "ServiceOffering": "ServiceOffering",
    "DiskOffering": "DiskOffering",
    "NetworkOffering": "NetworkOffering",
}


def _own_account(conn: Connection, caller: Caller, ids: Sequence[str]) -> None:
    rows = conn.execute(
        select(account.c.uuid, domain.c.path)
        .join(domain, domain.c.id == account.c.domain_id)
        .where(account.c.uuid.in_(list(ids)))
    ).all()
    for uuid, path in rows:
        check_account_access(caller, uuid, path)


#: Per resource type, who may tag it; other types are for root admins only.
TAG_CHECKS: dict[str, TagCheck] = {"Account": _own_account}


def resource_type(value: str) -> str:
    """CloudStack's spelling of a resource type (431 when unknown)."""
    for name in RESOURCE_TYPES:
        if name.lower() == value.strip().lower():
            return name
    raise ParamError(f"Invalid resource type {value}")


def _check(conn: Connection, caller: Caller, kind: str, ids: Sequence[str]) -> None:
    found = existing(conn, RESOURCE_TYPES[kind], ids)
    for item in ids:
        if item not in found:
            raise ParamError(f"Unable to find resource by id {item} and type {kind}")
    if caller.is_root_admin:
        return
    check = TAG_CHECKS.get(kind)
    if check is None:
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to tag {kind} resources")
    check(conn, caller, ids)


def create_tags(
    conn: Connection,
    caller: Caller,
    kind: str,
    ids: Sequence[str],
    tags: Sequence[Mapping[str, str]],
    *,
    customer: str | None = None,
) -> None:
    """Tag each resource with each ``{key, value}`` (431 when a key is already set on a resource)."""
    kind = resource_type(kind)
    _check(conn, caller, kind, ids)
    pairs = [(tag.get("key", ""), tag.get("value", "")) for tag in tags]
    if not pairs or any(not key for key, _ in pairs):
        raise ParamError("Unable to execute API command createtags due to missing parameter tags")
    caller_domain = select(domain.c.id).where(domain.c.uuid == caller.domain_id).scalar_subquery()
    for item in ids:
        for key, value in pairs:
            taken = select(resource_tag.c.id).where(
                resource_tag.c.resource_type == kind, resource_tag.c.resource_uuid == item, resource_tag.c.key == key
            )
            if conn.execute(taken).first():
                raise ParamError(f"tag {key} already on {kind} {item}")
            conn.execute(
                insert(resource_tag).values(
                    key=key,
                    value=value,
                    resource_type=kind,
                    resource_uuid=item,
                    account_id=account_pk(caller),
                    domain_id=caller_domain,
                    customer=customer,
                )
            )


def delete_tags(
    conn: Connection,
    caller: Caller,
    kind: str,
    ids: Sequence[str],
    tags: Sequence[Mapping[str, str]] | None,
) -> None:
    """Remove the given tags (a tag without value matches any value), or every tag, of the resources."""
    kind = resource_type(kind)
    _check(conn, caller, kind, ids)
    base = [
        resource_tag.c.resource_type == kind,
        resource_tag.c.resource_uuid.in_(list(ids)),
        visible_condition(caller, resource_tag.c.account_id, resource_tag.c.domain_id),
    ]
    if not tags:
        conn.execute(delete(resource_tag).where(*base))
        return
    for tag in tags:
        conditions = [*base, resource_tag.c.key == tag.get("key", "")]
        if tag.get("value"):
            conditions.append(resource_tag.c.value == tag["value"])
        conn.execute(delete(resource_tag).where(*conditions))


def list_tags(
    conn: Connection,
    caller: Caller,
    *,
    kind: str | None = None,
    resource_id: str | None = None,
    key: str | None = None,
    value: str | None = None,
    customer: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """The tags ``caller`` may see, as wire rows; returns (total count, one page)."""
    query = (
        select(
            resource_tag,
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .outerjoin(account, account.c.id == resource_tag.c.account_id)
        .outerjoin(domain, domain.c.id == resource_tag.c.domain_id)
        .where(visible_condition(caller, resource_tag.c.account_id, resource_tag.c.domain_id))
        .order_by(resource_tag.c.id)
    )
    if kind:
        query = query.where(resource_tag.c.resource_type == resource_type(kind))
    for column, wanted in (
        (resource_tag.c.resource_uuid, resource_id.lower() if resource_id else None),
        (resource_tag.c.key, key),
        (resource_tag.c.value, value),
        (resource_tag.c.customer, customer),
    ):
        if wanted:
            query = query.where(column == wanted)
    if keyword:
        query = query.where(resource_tag.c.key.contains(keyword, autoescape=True))
    total = count_of(conn, query)
    rows = [
        {
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
        for m in conn.execute(paginate(query, page, pagesize)).mappings()
    ]
    return total, rows
