"""``registerTemplate`` and ``registerIso``: validate, record the template and its zones, answer one row per zone.

Nothing is downloaded here: the rows start ``Allocated`` on every image store of the target zones
and the reconciler (:mod:`provisioner.services.templates.reconciler`) downloads, replicates or (in
simulated zones) completes them. The URL is checked for its form only (http/https, no credentials);
where it points is checked when it is fetched, since a simulated zone never fetches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select

from provisioner.db.schema import account, domain, os_type, template_zone_ref, vm_template, zone
from provisioner.exceptions import DriverValueError, ParamError, PermissionDeniedError
from provisioner.services.identity.resource_limits import check_resource_limit
from provisioner.services.identity.visibility import check_account_access
from provisioner.services.infrastructure.clusters import hypervisor_name
from provisioner.services.principal import Caller
from provisioner.services.templates.listing import image_rows
from provisioner.services.templates.records import Row
from provisioner.services.templates.refs import ensure_store_refs
from provisioner.storage.replication.checksum import Checksum

#: Formats each hypervisor can boot (``ImageFormat`` checks in ``TemplateAdapterBase``).
FORMATS: dict[str, tuple[str, ...]] = {
    "KVM": ("QCOW2", "RAW", "VHD", "VMDK"),
    "XenServer": ("VHD",),
    "VMware": ("OVA",),
    "Hyperv": ("VHD", "VHDX"),
    "LXC": ("TAR",),
    "Ovm3": ("RAW",),
    "BareMetal": ("BAREMETAL",),
    "Simulator": ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK", "TAR"),
}
ALL_FORMATS = tuple(sorted({fmt for formats in FORMATS.values() for fmt in formats}))
#: The OS type of images registered without one.
DEFAULT_OS_TYPE = "Other (64-bit)"
TEMPLATE_TYPES = ("USER", "BUILTIN", "SYSTEM", "ROUTING", "PERHOST")


def check_url(url: str) -> str:
    """The URL, stripped, if it is an http(s) URL without credentials.

    Raises:
        ParamError: another scheme, no host, or credentials in it (431).
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ParamError(f"Unsupported scheme for url: {url}; templates and ISOs are fetched over http or https")
    if not parts.hostname:
        raise ParamError(f"Please specify a valid URL. URL: {url} is invalid: it has no host")
    if parts.username or parts.password:
        raise ParamError("Please specify a valid URL without credentials: they would be stored and logged")
    return text


def check_checksum(checksum: str | None) -> str | None:
    """A checksum as given, if it parses (``{SHA256}hex``, ``{SHA512}hex``, ``{MD5}hex``, bare hex)."""
    if checksum is None or not checksum.strip():
        return None
    try:
        Checksum.parse(checksum)
    except DriverValueError as error:
        raise ParamError(f"Invalid checksum: {error}") from None
    return checksum.strip()


def target_zones(conn: Connection, zoneid: str | None, zoneids: Sequence[str] | None) -> tuple[bool, list[int]]:
    """(cross_zones, zone ids) from ``zoneid`` / ``zoneids``; ``-1`` means every zone.

    Raises:
        ParamError: neither given, or an unknown zone (431).
    """
    wanted = [item.strip() for item in ([zoneid] if zoneid else []) + list(zoneids or []) if item and item.strip()]
    if not wanted:
        raise ParamError("Either zoneid or zoneids is required (zoneid=-1 registers in every zone)")
    if "-1" in wanted:
        return True, []
    ids = []
    for uuid in dict.fromkeys(item.lower() for item in wanted):
        found = conn.execute(select(zone.c.id).where(zone.c.uuid == uuid, zone.c.removed.is_(None))).scalar()
        if found is None:
            raise ParamError(f"Unable to find zone by id {uuid}")
        ids.append(found)
    return False, ids


def os_type_id(conn: Connection, ostypeid: str | None) -> int | None:
    """The internal id of ``ostypeid`` (``Other (64-bit)`` when absent).

    Raises:
        ParamError: an unknown OS type (431).
    """
    if not ostypeid:
        # CloudStack always shows an OS type (clients such as Libcloud read ``ostypename``).
        default = conn.execute(select(os_type.c.id).where(os_type.c.description == DEFAULT_OS_TYPE)).scalar()
        return int(default) if default is not None else None
    found = conn.execute(select(os_type.c.id).where(os_type.c.uuid == ostypeid.strip().lower())).scalar()
    if found is None:
        raise ParamError(f"Unable to find guest OS type by id {ostypeid}; see listOsTypes")
    return int(found)


def owner_of(conn: Connection, caller: Caller, account_name: str | None, domainid: str | None) -> tuple[int, int]:
    """(account id, domain id) owning a new template: the caller's, or ``account``+``domainid`` for admins.

    Raises:
        ParamError: account without domainid, or an unknown account (431).
        PermissionDeniedError: the caller may not act for that account (531).
    """
    if account_name and domainid:
        dom = conn.execute(select(domain).where(domain.c.uuid == domainid.strip().lower())).mappings().first()
        if dom is None:
            raise ParamError(f"Unable to find domain by id {domainid}")
        row = (
            conn.execute(
                select(account).where(
                    account.c.name == account_name, account.c.domain_id == dom["id"], account.c.removed.is_(None)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise ParamError(f"Unable to find account {account_name} in domain {dom['name']}")
        check_account_access(caller, row["uuid"], dom["path"])
        return row["id"], row["domain_id"]
    if account_name:
        raise ParamError("Account name needs domainid")
    row = conn.execute(select(account).where(account.c.uuid == caller.account_id)).mappings().one()
    return row["id"], row["domain_id"]


def register_image(
    conn: Connection,
    caller: Caller,
    *,
    is_iso: bool,
    name: str,
    url: str,
    zoneid: str | None = None,
    zoneids: Sequence[str] | None = None,
    displaytext: str | None = None,
    format: str | None = None,
    hypervisor: str | None = None,
    ostypeid: str | None = None,
    checksum: str | None = None,
    isextractable: bool | None = None,
    isfeatured: bool | None = None,
    ispublic: bool | None = None,
    passwordenabled: bool | None = None,
    sshkeyenabled: bool | None = None,
    requireshvm: bool | None = None,
    isdynamicallyscalable: bool | None = None,
    bootable: bool | None = None,
    templatetag: str | None = None,
    templatetype: str | None = None,
    details: Mapping[str, str] | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
) -> list[Row]:
    """Register a template (``registerTemplate``) or an ISO (``registerIso``).

    Returns:
        One row per target zone, not ready yet (``status`` as the store rows are: ``Allocated``).

    Raises:
        ParamError: a missing or invalid name, URL, format, hypervisor, zone, OS type or checksum (431).
        PermissionDeniedError: a user asked for a featured image, or acts for another account (531).
    """
    if not name or not name.strip():
        raise ParamError("Please specify a valid name for the " + ("ISO" if is_iso else "template"))
    if len(name) > 255:
        raise ParamError("The name may have at most 255 characters")
    location = check_url(url)
    if is_iso:
        fmt, hypervisor_type = "ISO", None
    else:
        if not format or not hypervisor:
            raise ParamError("format and hypervisor are required to register a template")
        fmt = format.strip().upper()
        if fmt not in ALL_FORMATS:
            raise ParamError(f"Invalid format {format}; supported formats are {', '.join(ALL_FORMATS)}")
        hypervisor_type = hypervisor_name(hypervisor)
        if fmt not in FORMATS.get(hypervisor_type, ALL_FORMATS):
            raise ParamError(
                f"Format {fmt} is not supported by hypervisor {hypervisor_type}; "
                f"use {', '.join(FORMATS.get(hypervisor_type, ALL_FORMATS))}"
            )
    kind = (templatetype or "USER").strip().upper()
    if kind not in TEMPLATE_TYPES:
        raise ParamError(f"Invalid template type {templatetype}; use one of {', '.join(TEMPLATE_TYPES)}")
    if kind != "USER" and not caller.is_root_admin:
        raise PermissionDeniedError("Only root admins may register templates of type " + kind)
    if isfeatured and not caller.is_root_admin:
        raise PermissionDeniedError("Only admins can create featured templates and ISOs")
    cross, zone_ids = target_zones(conn, zoneid, zoneids)
    account_id, domain_id = owner_of(conn, caller, account_name, domainid)
    check_resource_limit(conn, account_id, "template")  # 535 past the account's or a domain's limit
    extra: dict[str, Any] = dict(details or {})
    if templatetag:
        extra["templatetag"] = templatetag
    new_id = conn.execute(
        insert(vm_template).values(
            name=name.strip(),
            display_text=displaytext if displaytext else name.strip(),
            format=fmt,
            type=kind,
            hypervisor_type=hypervisor_type,
            url=location,
            checksum=check_checksum(checksum),
            state="Active",
            is_public=bool(ispublic),
            featured=bool(isfeatured),
            extractable=bool(isextractable),
            bootable=True if bootable is None else bool(bootable),
            cross_zones=cross,
            password_enabled=bool(passwordenabled),
            sshkey_enabled=bool(sshkeyenabled),
            dynamically_scalable=bool(isdynamicallyscalable),
            requires_hvm=True if requireshvm is None else bool(requireshvm),
            os_type_id=os_type_id(conn, ostypeid),
            details=extra,
            account_id=account_id,
            domain_id=domain_id,
        )
    ).inserted_primary_key
    assert new_id is not None
    template_id = int(new_id[0])
    for zone_id in zone_ids:
        conn.execute(insert(template_zone_ref).values(template_id=template_id, zone_id=zone_id))
    ensure_store_refs(conn, template_id)
    return image_rows(conn, caller, template_id)
