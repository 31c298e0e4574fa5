"""Zones (``createZone``, ``updateZone``, ``listZones``, ``deleteZone``)."""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import host, image_store, physical_network, pod, storage_pool, utcnow, vlan_ip_range, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure import capacity
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    exists,
    get_live,
    ip_address,
    require_root,
    soft_delete,
)
from provisioner.services.principal import Caller

NETWORK_TYPES = ("Basic", "Advanced")
ALLOCATION_STATES = ("Enabled", "Disabled")
#: ``CreateZoneCmd``: advanced zones get this guest CIDR when none is given.
DEFAULT_GUEST_CIDR = "10.1.1.0/24"


def canonical(value: str, choices: Sequence[str], what: str) -> str:
    """``value`` in CloudStack's spelling, matched case-insensitively.

    Raises:
        ParamError: not one of ``choices`` (431).
    """
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise ParamError(f"Invalid {what} {value}; it must be one of {', '.join(choices)}")


def zone_row(m: RowMapping) -> Row:
    """A ``zone`` row as CloudStack's ``ZoneResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "description": m["description"],
        "dns1": m["dns1"],
        "dns2": m["dns2"],
        "ip6dns1": m["ip6_dns1"],
        "ip6dns2": m["ip6_dns2"],
        "internaldns1": m["internal_dns1"],
        "internaldns2": m["internal_dns2"],
        "guestcidraddress": m["guest_cidr"],
        "networktype": m["network_type"],
        "domain": m["network_domain"],
        "allocationstate": m["allocation_state"],
        "localstorageenabled": bool(m["local_storage_enabled"]),
        "securitygroupsenabled": bool(m["security_groups_enabled"]),
        "dhcpprovider": m["dhcp_provider"],
        "zonetoken": m["zone_token"],
        "created": m["created"],
        "tags": [],
    }


def _check_cidr(cidr: str) -> str:
    try:
        return str(ipaddress.IPv4Network(cidr.strip(), strict=False))
    except ValueError:
        raise ParamError(f"Please enter a valid guest cidr: {cidr}") from None


def _name_taken(conn: Connection, name: str, except_id: int | None = None) -> bool:
    conditions = [zone.c.name == name]
    if except_id is not None:
        conditions.append(zone.c.id != except_id)
    return exists(conn, zone, *conditions)


def create_zone(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    networktype: str,
    dns1: str,
    internaldns1: str,
    dns2: str | None = None,
    internaldns2: str | None = None,
    ip6dns1: str | None = None,
    ip6dns2: str | None = None,
    guestcidraddress: str | None = None,
    domain: str | None = None,
    localstorageenabled: bool = False,
    securitygroupenabled: bool = False,
    allocationstate: str | None = None,
    description: str | None = None,
) -> Row:
    """Create a zone; it starts ``Disabled`` unless ``allocationstate`` says otherwise.

    Raises:
        PermissionDeniedError: not a root admin.
        ParamError: bad network type, DNS address or CIDR, or a zone of that name exists.
    """
    require_root(caller, "createZone")
    network_type = canonical(networktype, NETWORK_TYPES, "network type")
    for value, param in (
        (dns1, "dns1"),
        (internaldns1, "internaldns1"),
        (dns2, "dns2"),
        (internaldns2, "internaldns2"),
    ):
        if value:
            ip_address(value, param)
    if _name_taken(conn, name):
        raise ParamError("A zone with that name already exists. Please specify a unique zone name.")
    cidr = guestcidraddress
    if network_type == "Advanced" and not cidr:
        cidr = DEFAULT_GUEST_CIDR
    # Basic zones isolate guests with security groups; CloudStack forces the flag on.
    security_groups = True if network_type == "Basic" else securitygroupenabled
    new_id = conn.execute(
        insert(zone).values(
            name=name,
            description=description,
            network_type=network_type,
            dns1=dns1,
            dns2=dns2,
            ip6_dns1=ip6dns1,
            ip6_dns2=ip6dns2,
            internal_dns1=internaldns1,
            internal_dns2=internaldns2,
            guest_cidr=_check_cidr(cidr) if cidr else None,
            network_domain=domain,
            allocation_state=canonical(allocationstate or "Disabled", ALLOCATION_STATES, "allocation state"),
            local_storage_enabled=localstorageenabled,
            security_groups_enabled=security_groups,
            dhcp_provider="VirtualRouter",
            zone_token=str(uuidlib.uuid4()),
        )
    ).inserted_primary_key
    assert new_id is not None
    return zone_row(conn.execute(select(zone).where(zone.c.id == new_id[0])).mappings().one())


def update_zone(conn: Connection, caller: Caller, id: str, **changes: Any) -> Row:
    """Change a zone (``updateZone``); ``allocationstate=Enabled`` opens it for deployments.

    Args:
        conn: the connection.
        caller: must be a root admin.
        id: the zone's UUID.
        **changes: any of name, dns1, dns2, ip6dns1, ip6dns2, internaldns1, internaldns2, guestcidraddress,
            domain, allocationstate, localstorageenabled, dhcpprovider, description; None leaves a field alone.

    Raises:
        ParamError: unknown zone, unknown field, bad value, or a name another zone has.
    """
    require_root(caller, "updateZone")
    row = get_live(conn, zone, id)
    columns = {
        "name": "name",
        "description": "description",
        "dns1": "dns1",
        "dns2": "dns2",
        "ip6dns1": "ip6_dns1",
        "ip6dns2": "ip6_dns2",
        "internaldns1": "internal_dns1",
        "internaldns2": "internal_dns2",
        "guestcidraddress": "guest_cidr",
        "domain": "network_domain",
        "allocationstate": "allocation_state",
        "localstorageenabled": "local_storage_enabled",
        "dhcpprovider": "dhcp_provider",
    }
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in columns:
            raise ParamError(f"updateZone does not take the parameter {key}")
        if value is None:
            continue
        if key in ("dns1", "dns2", "internaldns1", "internaldns2"):
            ip_address(value, key)
        elif key == "name" and _name_taken(conn, value, row["id"]):
            raise ParamError("A zone with that name already exists. Please specify a unique zone name.")
        if key == "guestcidraddress":
            values[columns[key]] = _check_cidr(value)
        elif key == "allocationstate":
            values[columns[key]] = canonical(value, ALLOCATION_STATES, "allocation state")
        else:
            values[columns[key]] = value
    if values:
        conn.execute(update(zone).where(zone.c.id == row["id"]).values(**values))
    return zone_row(conn.execute(select(zone).where(zone.c.id == row["id"])).mappings().one())


def list_zones(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    networktype: str | None = None,
    available: bool | None = None,
    showcapacities: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List zones (``listZones``). Every caller may list zones; ``available`` keeps the Enabled ones.

    Non-admin callers see only Enabled zones, as CloudStack shows users only zones they may deploy in.
    """
    conditions = common_filters(zone, id=id, ids=ids, name=name, keyword=keyword)
    if networktype:
        conditions.append(zone.c.network_type == canonical(networktype, NETWORK_TYPES, "network type"))
    if available or not caller.is_root_admin:
        conditions.append(zone.c.allocation_state == "Enabled")
    rows, total = list_page(conn, select(zone).where(*conditions), [zone.c.id], page, pagesize)
    result = [zone_row(m) for m in rows]
    if showcapacities and caller.is_root_admin and rows:
        by_zone = capacity.capacities_by_zone(conn, [m["id"] for m in rows])
        for m, item in zip(rows, result, strict=True):
            item["capacity"] = by_zone.get(m["uuid"], [])
    return result, total


def delete_zone(conn: Connection, caller: Caller, id: str) -> None:
    """Delete an empty zone (``deleteZone``); soft delete, as CloudStack.

    Raises:
        ResourceInUseError: hosts, pods, physical networks, pools or image stores remain (536).
    """
    require_root(caller, "deleteZone")
    row = get_live(conn, zone, id)
    blockers = (
        (host, "there are servers in this zone"),
        (pod, "there are pods in this zone"),
        (physical_network, "there are physical networks in this zone"),
        (storage_pool, "there are storage pools in this zone"),
        (image_store, "there are image stores in this zone"),
    )
    for table, reason in blockers:
        if exists(conn, table, table.c.zone_id == row["id"]):
            raise ResourceInUseError(f"The zone is not deletable because {reason}")
    # Ranges left in the zone go with it, as CloudStack deletes the zone's VLANs (IPAM refuses earlier
    # when an address of them is allocated).
    conn.execute(
        update(vlan_ip_range)
        .where(vlan_ip_range.c.zone_id == row["id"], vlan_ip_range.c.removed.is_(None))
        .values(removed=utcnow())
    )
    soft_delete(conn, zone, row["id"])
