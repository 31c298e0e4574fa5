"""Templates and ISOs as CloudStack answers them (``TemplateResponse``): one row per template and zone.

A zone's row sums up the copies on that zone's image stores: ``isready`` when one is Ready, and
``status`` as ``TemplateJoinDaoImpl.getTemplateStatus`` words it ("Download Complete", "42% Downloaded",
"Installing Template", the error text, or the state name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from provisioner.services.principal import Caller

Row = dict[str, Any]

#: Template types users may not see in listings.
HIDDEN_TYPES = ("SYSTEM",)


def _ref_rank(ref: Mapping[str, Any]) -> tuple[int, int]:
    """Order store copies so the most advanced one speaks for the zone."""
    order = {"Ready": 0, "Creating": 1, "Allocated": 2, "Failed": 3}
    return order.get(ref["state"], 4), -int(ref["download_pct"] or 0)


def status_text(ref: Mapping[str, Any] | None, *, is_iso: bool) -> str | None:
    """CloudStack's ``status`` of one store copy (``getTemplateStatus``)."""
    if ref is None:
        return None
    if ref["state"] == "Ready" or ref["download_state"] == "DOWNLOADED":
        return "Download Complete"
    if ref["download_state"] == "DOWNLOAD_IN_PROGRESS":
        if int(ref["download_pct"] or 0) >= 100:
            return "Installing ISO" if is_iso else "Installing Template"
        return f"{int(ref['download_pct'] or 0)}% Downloaded"
    if ref["download_state"] == "BYPASSED":
        return "Bypassed Secondary Storage"
    if ref["error_str"]:
        return str(ref["error_str"]).strip()
    return str(ref["state"])


def download_details(refs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """``downloaddetails``: one entry per image store of the zone (values are strings, as in CloudStack)."""
    return [
        {
            "datastore": str(ref["store_name"]),
            "downloadPercent": str(int(ref["download_pct"] or 0)),
            "downloadState": str(ref["download_state"]),
        }
        for ref in refs
    ]


def can_see_status(caller: Caller, owner_account_uuid: str) -> bool:
    """``status`` and download details are shown to admins and the owner only."""
    return caller.role_type.value != "User" or caller.account_id == owner_account_uuid


def template_row(
    m: Mapping[str, Any],
    refs: Sequence[Mapping[str, Any]],
    caller: Caller,
    tags: Sequence[Row] = (),
) -> Row:
    """One ``TemplateResponse`` (or ISO response): a template joined with its zone, owner and OS type.

    Args:
        m: template columns plus ``zone_uuid``/``zone_name``, ``account_name``/``account_uuid``,
            ``domain_uuid``/``domain_name``, ``ostype_uuid``/``ostype_name``.
        refs: the template's store copies in that zone (``template_store_ref`` plus ``store_name``).
        caller: who asks (status, url and download details are for admins and the owner).
        tags: the template's resource tags.
    """
    is_iso = m["format"] == "ISO"
    ranked = sorted(refs, key=_ref_rank)
    best = ranked[0] if ranked else None
    ready = best is not None and best["state"] == "Ready"
    privileged = can_see_status(caller, m["account_uuid"])
    size = m["size"] if m["size"] is not None else (best["size"] if best is not None else None)
    physical = best["physical_size"] if best is not None and best["physical_size"] is not None else m["physical_size"]
    row: Row = {
        "id": m["uuid"],
        "name": m["name"],
        "displaytext": m["display_text"] if m["display_text"] is not None else m["name"],
        "ispublic": bool(m["is_public"]),
        "isfeatured": bool(m["featured"]),
        "isextractable": bool(m["extractable"]),
        "crossZones": bool(m["cross_zones"]),
        "created": m["created"],
        "isready": ready,
        "passwordenabled": bool(m["password_enabled"]),
        "sshkeyenabled": bool(m["sshkey_enabled"]),
        "isdynamicallyscalable": bool(m["dynamically_scalable"]),
        "requireshvm": bool(m["requires_hvm"]),
        "bootable": bool(m["bootable"]),
        "format": m["format"],
        "templatetype": m["type"],
        "hypervisor": m["hypervisor_type"] if not is_iso else None,
        "ostypeid": m["ostype_uuid"],
        "ostypename": m["ostype_name"],
        "account": m["account_name"],
        "accountid": m["account_uuid"],
        "domain": m["domain_name"],
        "domainid": m["domain_uuid"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "size": size,
        "physicalsize": physical,
        "checksum": m["checksum"],
        "templatetag": (m["details"] or {}).get("templatetag"),
        "directdownload": False,
        "deployasis": False,
        "details": {k: str(v) for k, v in (m["details"] or {}).items() if k != "templatetag"} or None,
        "tags": list(tags),
    }
    if m.get("source_uuid"):
        row["sourcetemplateid"] = m["source_uuid"]
    if privileged:
        row["status"] = status_text(best, is_iso=is_iso) if best is not None else None
        row["downloaddetails"] = download_details(ranked)
        row["url"] = m["url"]
    return row
