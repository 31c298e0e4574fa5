"""``listTemplates`` and ``listIsos``: one row per (template, zone), filtered as CloudStack's ``templatefilter``.

Filters (``TemplateFilter``): ``featured`` (public and featured), ``self`` (owned by the caller, or
its domain subtree for domain admins), ``selfexecutable`` (owned and ready), ``sharedexecutable``
(shared with the caller's account and ready), ``executable`` (anything the caller may deploy, ready),
``community`` (public, not featured), ``all`` (admins only). As in CloudStack, ``featured``,
``community`` and the ``*executable`` filters only show rows that are ready in their zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, or_, select, true, union_all

from provisioner.db.schema import (
    account,
    domain,
    image_store,
    os_type,
    template_store_ref,
    template_zone_ref,
    vm_template,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import contains, list_page
from provisioner.services.principal import Caller
from provisioner.services.tags import register_resource_type, tagged_with, tags_by_resource
from provisioner.services.templates.access import owned_condition, shared_condition, usable_condition
from provisioner.services.templates.records import HIDDEN_TYPES, Row, template_row

FILTERS = ("featured", "self", "selfexecutable", "sharedexecutable", "executable", "community", "all")
READY_ONLY = ("featured", "selfexecutable", "sharedexecutable", "executable", "community")
TEMPLATE_RESOURCE = "Template"
ISO_RESOURCE = "ISO"


def pairs_subquery() -> Any:
    """(template id, zone id) of every registration: zone refs, and every live zone for cross-zone templates."""
    registered = select(template_zone_ref.c.template_id.label("tid"), template_zone_ref.c.zone_id.label("zid")).where(
        template_zone_ref.c.removed.is_(None)
    )
    everywhere = (
        select(vm_template.c.id.label("tid"), zone.c.id.label("zid"))
        .select_from(vm_template)
        .join(zone, true())  # a cross-zone template is in every zone
        .where(vm_template.c.cross_zones.is_(True), zone.c.removed.is_(None))
    )
    return union_all(registered, everywhere).subquery("pairs")


def _filter_condition(caller: Caller, templatefilter: str) -> ColumnElement[bool]:
    choice = templatefilter.strip().lower()
    if choice not in FILTERS:
        raise ParamError(f"Invalid template filter {templatefilter}; use one of {', '.join(FILTERS)}")
    if choice == "featured":
        return and_(vm_template.c.featured.is_(True), vm_template.c.is_public.is_(True))
    if choice in ("self", "selfexecutable"):
        if caller.is_root_admin:
            from provisioner.services.identity.visibility import account_pk

            return vm_template.c.account_id == account_pk(caller)
        return owned_condition(caller)
    if choice == "sharedexecutable":
        return shared_condition(caller)
    if choice == "executable":
        return usable_condition(caller)
    if choice == "community":
        return and_(vm_template.c.is_public.is_(True), vm_template.c.featured.is_(False))
    if not (caller.is_root_admin or caller.is_domain_admin):
        raise PermissionDeniedError("Filter all can be specified by admin only")
    return usable_condition(caller)


#: The owner and OS type columns every template row shows.
DESCRIBED = (
    account.c.name.label("account_name"),
    account.c.uuid.label("account_uuid"),
    domain.c.uuid.label("domain_uuid"),
    domain.c.name.label("domain_name"),
    os_type.c.uuid.label("ostype_uuid"),
    os_type.c.description.label("ostype_name"),
)


def _described(query: Any) -> Any:
    """Join the owner and OS type of ``vm_template`` into ``query``."""
    return (
        query.join(account, account.c.id == vm_template.c.account_id)
        .join(domain, domain.c.id == vm_template.c.domain_id)
        .outerjoin(os_type, os_type.c.id == vm_template.c.os_type_id)
    )


def _select(pairs: Any) -> Any:
    query = (
        select(vm_template, pairs.c.tid, pairs.c.zid, zone.c.uuid.label("zone_uuid"), zone.c.name.label("zone_name"))
        .add_columns(*DESCRIBED)
        .select_from(pairs)
        .join(vm_template, vm_template.c.id == pairs.c.tid)
        .join(zone, zone.c.id == pairs.c.zid)
    )
    return _described(query)


def ready_in_zone(pairs: Any) -> ColumnElement[bool]:
    """The (template, zone) pair has a Ready copy on a store of that zone."""
    return exists(
        select(template_store_ref.c.id).where(
            template_store_ref.c.template_id == pairs.c.tid,
            template_store_ref.c.zone_id == pairs.c.zid,
            template_store_ref.c.state == "Ready",
        )
    )


def store_refs(conn: Connection, template_ids: Sequence[int]) -> dict[tuple[int, int], list[Any]]:
    """The store copies of some templates, by (template id, zone id)."""
    found: dict[tuple[int, int], list[Any]] = defaultdict(list)
    if not template_ids:
        return found
    query = (
        select(template_store_ref, image_store.c.name.label("store_name"))
        .join(image_store, image_store.c.id == template_store_ref.c.store_id)
        .where(
            template_store_ref.c.template_id.in_(list(set(template_ids))),
            image_store.c.removed.is_(None),
            template_store_ref.c.state.not_in(("Destroying", "Destroyed")),
        )
        .order_by(template_store_ref.c.id)
    )
    for m in conn.execute(query).mappings():
        found[(m["template_id"], m["zone_id"])].append(m)
    return found


def rows_for(conn: Connection, caller: Caller, query: Any, rows: Sequence[Any], resource: str) -> list[Row]:
    """Decorate listed (template, zone) rows with their store copies and tags."""
    refs = store_refs(conn, [m["tid"] for m in rows])
    tags = tags_by_resource(conn, resource, [m["uuid"] for m in rows])
    return [template_row(m, refs.get((m["tid"], m["zid"]), []), caller, tags.get(m["uuid"], [])) for m in rows]


def list_images(
    conn: Connection,
    caller: Caller,
    *,
    is_iso: bool,
    templatefilter: str,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    hypervisor: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    isready: bool | None = None,
    ispublic: bool | None = None,
    bootable: bool | None = None,
    tags: Sequence[dict[str, str]] | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List templates (``is_iso=False``) or ISOs, one row per (image, zone).

    Raises:
        ParamError: an unknown filter (431).
        PermissionDeniedError: ``all`` asked by a user (531).
    """
    pairs = pairs_subquery()
    conditions: list[ColumnElement[bool]] = [
        vm_template.c.removed.is_(None),
        (vm_template.c.format == "ISO") if is_iso else (vm_template.c.format != "ISO"),
        _filter_condition(caller, templatefilter),
        usable_condition(caller),
    ]
    if not caller.is_root_admin:
        conditions.append(vm_template.c.type.not_in(HIDDEN_TYPES))
    if templatefilter.strip().lower() in READY_ONLY or isready:  # isready=false does not filter (CloudStack)
        conditions.append(ready_in_zone(pairs))
    if id:
        conditions.append(vm_template.c.uuid == id.strip().lower())
    if ids:
        conditions.append(vm_template.c.uuid.in_([item.strip().lower() for item in ids]))
    if name:
        conditions.append(vm_template.c.name == name)
    if keyword:
        conditions.append(or_(contains(vm_template.c.name, keyword), contains(vm_template.c.display_text, keyword)))
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.strip().lower())
    if hypervisor and not is_iso:
        conditions.append(vm_template.c.hypervisor_type.ilike(hypervisor.strip()))
    if ispublic is not None:
        conditions.append(vm_template.c.is_public.is_(ispublic))
    if bootable is not None:
        conditions.append(vm_template.c.bootable.is_(bootable))
    if domainid:
        conditions.append(domain.c.uuid == domainid.strip().lower())
        if account_name:
            conditions.append(account.c.name == account_name)
    elif account_name:
        conditions.append(false())  # CloudStack: account needs domainid
    if tags:
        conditions.append(tagged_with(ISO_RESOURCE if is_iso else TEMPLATE_RESOURCE, vm_template.c.uuid, tags))
    query = _select(pairs).where(*conditions)
    rows, total = list_page(conn, query, [pairs.c.tid, pairs.c.zid], page, pagesize)
    return rows_for(conn, caller, query, rows, ISO_RESOURCE if is_iso else TEMPLATE_RESOURCE), total


def image_rows(conn: Connection, caller: Caller, template_id: int, zone_id: int | None = None) -> list[Row]:
    """The rows of one template (every zone, or one), as registration and updates answer them."""
    pairs = pairs_subquery()
    query = _select(pairs).where(vm_template.c.id == template_id)
    if zone_id is not None:
        query = query.where(pairs.c.zid == zone_id)
    rows = conn.execute(query.order_by(pairs.c.zid)).mappings().all()
    if not rows:  # registered for no zone yet (a createTemplate in flight): answer without a zone
        query = _described(select(vm_template, vm_template.c.id.label("tid"), *DESCRIBED))
        base = conn.execute(query.where(vm_template.c.id == template_id)).mappings().one()
        row = dict(base)
        row.update(zid=None, zone_uuid=None, zone_name=None, source_uuid=None)
        return [template_row(row, [], caller)]
    resource = ISO_RESOURCE if rows[0]["format"] == "ISO" else TEMPLATE_RESOURCE
    return rows_for(conn, caller, query, rows, resource)


def template_owners(conn: Connection, uuids: Sequence[str]) -> dict[str, tuple[int | None, int | None]]:
    """Owners of live templates and ISOs, for the tags service."""
    query = select(vm_template.c.uuid, vm_template.c.account_id, vm_template.c.domain_id).where(
        vm_template.c.uuid.in_(list(uuids)), vm_template.c.removed.is_(None)
    )
    return {u: (a, d) for u, a, d in conn.execute(query).tuples()}


register_resource_type(TEMPLATE_RESOURCE, template_owners)
register_resource_type(ISO_RESOURCE, template_owners)
