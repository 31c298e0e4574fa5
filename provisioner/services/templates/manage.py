"""Changing registered templates and ISOs: update, permissions, delete (per zone or all), copy, extract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from provisioner.db.schema import (
    account,
    domain,
    image_store,
    template_permission,
    template_store_ref,
    template_zone_ref,
    utcnow,
    vm_instance,
    vm_template,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.principal import Caller
from provisioner.services.templates.access import owned_condition, usable_condition
from provisioner.services.templates.extract import create_link
from provisioner.services.templates.listing import image_rows
from provisioner.services.templates.records import Row
from provisioner.services.templates.refs import ensure_store_refs
from provisioner.services.templates.register import ALL_FORMATS, TEMPLATE_TYPES, os_type_id, target_zones


def kind_name(is_iso: bool) -> str:
    """``ISO`` or ``template``, for messages."""
    return "ISO" if is_iso else "template"


def get_image(conn: Connection, caller: Caller, uuid: str, *, is_iso: bool) -> RowMapping:
    """A live template (or ISO) the caller may see.

    Raises:
        ParamError: no such template or ISO, or one of the other kind (431).
    """
    row = (
        conn.execute(
            select(vm_template).where(
                vm_template.c.uuid == uuid.strip().lower(),
                vm_template.c.removed.is_(None),
                usable_condition(caller),
            )
        )
        .mappings()
        .first()
    )
    if row is None or (row["format"] == "ISO") != is_iso:
        raise ParamError(f"Unable to find {kind_name(is_iso)} with id {uuid}")
    return row


def check_owner(conn: Connection, caller: Caller, row: RowMapping, action: str) -> None:
    """Raise unless the caller owns (or administers the owner of) the template.

    Raises:
        PermissionDeniedError: 531, CloudStack's wording.
    """
    allowed = conn.execute(select(vm_template.c.id).where(vm_template.c.id == row["id"], owned_condition(caller)))
    if allowed.first() is None:
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to {action} "
            f"{'ISO' if row['format'] == 'ISO' else 'template'} {row['name']} ({row['uuid']})"
        )


def update_image(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    is_iso: bool,
    name: str | None = None,
    displaytext: str | None = None,
    format: str | None = None,
    ostypeid: str | None = None,
    passwordenabled: bool | None = None,
    sshkeyenabled: bool | None = None,
    isdynamicallyscalable: bool | None = None,
    bootable: bool | None = None,
    requireshvm: bool | None = None,
    templatetag: str | None = None,
    templatetype: str | None = None,
    details: Mapping[str, str] | None = None,
    cleanupdetails: bool | None = None,
) -> Row:
    """``updateTemplate`` / ``updateIso``: change the descriptive attributes; returns the first zone's row."""
    row = get_image(conn, caller, id, is_iso=is_iso)
    check_owner(conn, caller, row, "update")
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ParamError("The name may not be empty")
        values["name"] = name.strip()
    if displaytext is not None:
        values["display_text"] = displaytext
    if format is not None and not is_iso:
        if format.strip().upper() not in ALL_FORMATS:
            raise ParamError(f"Invalid format {format}; supported formats are {', '.join(ALL_FORMATS)}")
        values["format"] = format.strip().upper()
    if ostypeid:
        values["os_type_id"] = os_type_id(conn, ostypeid)
    for column, given in (
        ("password_enabled", passwordenabled),
        ("sshkey_enabled", sshkeyenabled),
        ("dynamically_scalable", isdynamicallyscalable),
        ("bootable", bootable),
        ("requires_hvm", requireshvm),
    ):
        if given is not None:
            values[column] = bool(given)
    if templatetype is not None:
        if not caller.is_root_admin:
            raise PermissionDeniedError("Only root admins may change the template type")
        if templatetype.strip().upper() not in TEMPLATE_TYPES:
            raise ParamError(f"Invalid template type {templatetype}; use one of {', '.join(TEMPLATE_TYPES)}")
        values["type"] = templatetype.strip().upper()
    extra = {} if cleanupdetails else dict(row["details"] or {})
    if details:
        extra.update(details)
    if templatetag is not None:
        extra["templatetag"] = templatetag
    if cleanupdetails or details or templatetag is not None:
        values["details"] = extra
    if values:
        conn.execute(
            update(vm_template)
            .where(vm_template.c.id == row["id"])
            .values(**values, update_count=vm_template.c.update_count + 1)
        )
    return image_rows(conn, caller, row["id"])[0]


def _accounts_named(conn: Connection, names: Sequence[str], domain_id: int) -> list[int]:
    found = []
    for name in names:
        account_id = conn.execute(
            select(account.c.id).where(
                account.c.name == name.strip(), account.c.domain_id == domain_id, account.c.removed.is_(None)
            )
        ).scalar()
        if account_id is None:
            raise ParamError(f"Unable to find account {name.strip()} in the template's domain")
        found.append(int(account_id))
    return found


def update_permissions(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    is_iso: bool,
    ispublic: bool | None = None,
    isfeatured: bool | None = None,
    isextractable: bool | None = None,
    op: str | None = None,
    accounts: Sequence[str] | None = None,
) -> None:
    """``updateTemplatePermissions`` / ``updateIsoPermissions``: public/featured/extractable and account shares.

    Raises:
        ParamError: an unknown op or account, or accounts without op (431).
        PermissionDeniedError: not the owner, or a user asking for featured (531).
    """
    row = get_image(conn, caller, id, is_iso=is_iso)
    check_owner(conn, caller, row, "update permissions of")
    values: dict[str, Any] = {}
    if isfeatured is not None:
        if isfeatured and not caller.is_root_admin:
            raise PermissionDeniedError("Only admins can mark templates and ISOs featured")
        values["featured"] = bool(isfeatured)
    if ispublic is not None:
        values["is_public"] = bool(ispublic)
    if isextractable is not None:
        values["extractable"] = bool(isextractable)
    if values:
        conn.execute(update(vm_template).where(vm_template.c.id == row["id"]).values(**values))
    names = [name for name in accounts or () if name.strip()]
    if op is None:
        if names:
            raise ParamError("op (add, remove or reset) is required with accounts")
        return
    operation = op.strip().lower()
    if operation not in ("add", "remove", "reset"):
        raise ParamError(f"Invalid op {op}; use add, remove or reset")
    if operation == "reset":
        conn.execute(delete(template_permission).where(template_permission.c.template_id == row["id"]))
        return
    if not names:
        raise ParamError(f"accounts are required with op={operation}")
    for account_id in _accounts_named(conn, names, row["domain_id"]):
        exists_already = conn.execute(
            select(template_permission.c.id).where(
                template_permission.c.template_id == row["id"], template_permission.c.account_id == account_id
            )
        ).first()
        if operation == "add" and exists_already is None:
            conn.execute(insert(template_permission).values(template_id=row["id"], account_id=account_id))
        elif operation == "remove" and exists_already is not None:
            conn.execute(delete(template_permission).where(template_permission.c.id == exists_already[0]))


def list_permissions(conn: Connection, caller: Caller, id: str, *, is_iso: bool) -> Row:
    """``listTemplatePermissions`` / ``listIsoPermissions``: who the image is shared with."""
    row = get_image(conn, caller, id, is_iso=is_iso)
    check_owner(conn, caller, row, "list permissions of")
    names = conn.execute(
        select(account.c.name)
        .join(template_permission, template_permission.c.account_id == account.c.id)
        .where(template_permission.c.template_id == row["id"])
        .order_by(account.c.name)
    ).scalars()
    domain_uuid = conn.execute(select(domain.c.uuid).where(domain.c.id == row["domain_id"])).scalar()
    return {"id": row["uuid"], "ispublic": bool(row["is_public"]), "domainid": domain_uuid, "account": list(names)}


def _destroy_refs(conn: Connection, template_id: int, zone_id: int | None) -> None:
    query = update(template_store_ref).where(
        template_store_ref.c.template_id == template_id,
        template_store_ref.c.state.not_in(("Destroying", "Destroyed")),
    )
    if zone_id is not None:
        query = query.where(template_store_ref.c.zone_id == zone_id)
    conn.execute(
        query.values(
            state="Destroying", lease_owner=None, lease_until=None, update_count=template_store_ref.c.update_count + 1
        )
    )


def delete_image(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    is_iso: bool,
    zoneid: str | None = None,
    forced: bool | None = None,
) -> None:
    """``deleteTemplate`` / ``deleteIso``: from one zone, or everywhere (the template is then removed).

    The copies on the image stores are removed by the reconciler (state Destroying), not here.

    Raises:
        ParamError: unknown template/zone, or VMs still use it and ``forced`` is not set (431).
        PermissionDeniedError: not the owner (531).
    """
    row = get_image(conn, caller, id, is_iso=is_iso)
    check_owner(conn, caller, row, "delete")
    if not is_iso and not forced:
        users = conn.execute(
            select(vm_instance.c.uuid).where(vm_instance.c.template_id == row["id"], vm_instance.c.removed.is_(None))
        ).scalars()
        in_use = list(users)
        if in_use:
            raise ParamError(
                f"Unable to delete template with id: {row['uuid']} because VM instances: [{', '.join(in_use)}] "
                "are using it; use forced=true to delete it anyway"
            )
    zone_id = None
    if zoneid and not row["cross_zones"]:
        zone_id = conn.execute(select(zone.c.id).where(zone.c.uuid == zoneid.strip().lower())).scalar()
        if zone_id is None:
            raise ParamError(f"Unable to find zone by id {zoneid}")
        conn.execute(
            update(template_zone_ref)
            .where(
                template_zone_ref.c.template_id == row["id"],
                template_zone_ref.c.zone_id == zone_id,
                template_zone_ref.c.removed.is_(None),
            )
            .values(removed=utcnow())
        )
    remaining = conn.execute(
        select(template_zone_ref.c.id).where(
            template_zone_ref.c.template_id == row["id"], template_zone_ref.c.removed.is_(None)
        )
    ).first()
    if zone_id is not None and remaining is not None:
        _destroy_refs(conn, row["id"], zone_id)
        return
    conn.execute(
        update(template_zone_ref)
        .where(template_zone_ref.c.template_id == row["id"], template_zone_ref.c.removed.is_(None))
        .values(removed=utcnow())
    )
    conn.execute(
        update(vm_template)
        .where(vm_template.c.id == row["id"])
        .values(state="Inactive", removed=utcnow(), update_count=vm_template.c.update_count + 1)
    )
    _destroy_refs(conn, row["id"], None)


def copy_image(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    is_iso: bool,
    destzoneid: str | None = None,
    destzoneids: Sequence[str] | None = None,
    sourcezoneid: str | None = None,
) -> list[Row]:
    """``copyTemplate`` / ``copyIso``: register the image in more zones; their stores replicate it store to store.

    Returns:
        The destination zones' rows (not ready until the reconciler has copied).

    Raises:
        ParamError: no destination, unknown zones, a cross-zone image, or nothing Ready to copy from (431).
    """
    row = get_image(conn, caller, id, is_iso=is_iso)
    if not caller.is_root_admin:
        check_owner(conn, caller, row, "copy")
    if row["cross_zones"]:
        raise ParamError(f"{kind_name(is_iso).capitalize()} {row['name']} is cross-zone: it is in every zone already")
    cross, zone_ids = target_zones(conn, destzoneid, destzoneids)
    if cross:
        raise ParamError("Please specify valid destination zones (zoneid=-1 is not a copy destination)")
    ready = select(template_store_ref.c.id).where(
        template_store_ref.c.template_id == row["id"], template_store_ref.c.state == "Ready"
    )
    if sourcezoneid:
        source_zone = conn.execute(select(zone.c.id).where(zone.c.uuid == sourcezoneid.strip().lower())).scalar()
        if source_zone is None:
            raise ParamError(f"Unable to find zone by id {sourcezoneid}")
        ready = ready.where(template_store_ref.c.zone_id == source_zone)
    if conn.execute(ready).first() is None:
        raise ParamError(
            f"{kind_name(is_iso).capitalize()} {row['name']} is not ready in the source zone; "
            "wait until listTemplates shows isready=true"
        )
    for zone_id in zone_ids:
        present = conn.execute(
            select(template_zone_ref.c.id).where(
                template_zone_ref.c.template_id == row["id"],
                template_zone_ref.c.zone_id == zone_id,
                template_zone_ref.c.removed.is_(None),
            )
        ).first()
        if present is None:
            conn.execute(insert(template_zone_ref).values(template_id=row["id"], zone_id=zone_id))
    ensure_store_refs(conn, row["id"])
    return [item for zone_id in zone_ids for item in image_rows(conn, caller, row["id"], zone_id)]


def extract_image(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    is_iso: bool,
    mode: str,
    zoneid: str | None = None,
) -> Row:
    """``extractTemplate`` / ``extractIso``: a time-limited HTTP link to a Ready copy (``HTTP_DOWNLOAD`` only).

    Raises:
        ParamError: another mode (``FTP_UPLOAD`` is not supported), a system template, not extractable
            (a root admin may still extract it), or not ready in the zone (431).
        PermissionDeniedError: the caller is neither its owner (or the owner's domain admin) nor a root admin (531).
    """
    row = get_image(conn, caller, id, is_iso=is_iso)
    wanted = (mode or "").strip().upper()
    if wanted == "FTP_UPLOAD":
        raise ParamError("Extract mode FTP_UPLOAD is not supported; use HTTP_DOWNLOAD")
    if wanted != "HTTP_DOWNLOAD":
        raise ParamError(f"Please specify a valid extract Mode; only HTTP_DOWNLOAD is supported, not {mode}")
    if row["type"] == "SYSTEM":
        raise ParamError(f"Unable to extract the {kind_name(is_iso)} {row['name']} as it is a default System template")
    if not row["extractable"] and not caller.is_root_admin:
        raise ParamError(f"Unable to extract {kind_name(is_iso)} id={row['uuid']} as it's not extractable")
    if not caller.is_root_admin:
        check_owner(conn, caller, row, "extract")
    query = (
        select(template_store_ref, image_store.c.url.label("store_url"), zone.c.uuid.label("zone_uuid"), zone.c.name)
        .join(image_store, image_store.c.id == template_store_ref.c.store_id)
        .join(zone, zone.c.id == template_store_ref.c.zone_id)
        .where(template_store_ref.c.template_id == row["id"], template_store_ref.c.state == "Ready")
    )
    if zoneid:
        query = query.where(zone.c.uuid == zoneid.strip().lower())
    copy = conn.execute(query.order_by(template_store_ref.c.id).limit(1)).mappings().first()
    if copy is None:
        raise ParamError(f"The {kind_name(is_iso)} {row['name']} is not ready in the zone; it cannot be extracted yet")
    owner = conn.execute(select(account.c.uuid).where(account.c.id == row["account_id"])).scalar()
    url, _expires = create_link(conn, row["id"], copy["id"], str(copy["install_path"]).rsplit("/", 1)[-1])
    return {
        "id": row["uuid"],
        "name": row["name"],
        "extractId": row["uuid"],
        "accountid": owner,
        "state": "DOWNLOAD_URL_CREATED",
        "status": "DOWNLOAD_URL_CREATED",
        "extractMode": "HTTP_DOWNLOAD",
        "uploadpercentage": 100,
        "storagetype": "Image",
        "url": url,
        "zoneid": copy["zone_uuid"],
        "zonename": copy["name"],
        "created": utcnow(),
    }
