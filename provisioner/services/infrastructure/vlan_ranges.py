"""VLAN/IP ranges (``createVlanIpRange``, ``listVlanIpRanges``, ``deleteVlanIpRange``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, select

from provisioner.db.schema import physical_network, physical_network_traffic_type, pod, vlan_ip_range, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import contains, list_page
from provisioner.services.infrastructure.common import (
    Row,
    get_live,
    ip_address,
    ip_network,
    live,
    require_root,
    soft_delete,
)
from provisioner.services.principal import Caller

#: Answers whether addresses of a range (by UUID) are allocated; IPAM supplies it.
RangeUsage = Callable[[str], bool]
UNTAGGED = "untagged"


def vlan_tag(vlan: str | None) -> str:
    """CloudStack's stored form: ``vlan://100`` for a number, ``untagged`` for none."""
    if vlan is None or vlan.strip().lower() in ("", UNTAGGED, "vlan://untagged"):
        return UNTAGGED
    text = vlan.strip()
    number = text.removeprefix("vlan://")
    if not number.isdigit() or not 0 <= int(number) <= 4095:
        raise ParamError(f"Invalid vlan {vlan}; use a number 0-4095 or untagged")
    return f"vlan://{int(number)}"


def range_row(m: RowMapping) -> Row:
    """A range as ``VlanIpRangeResponse``."""
    return {
        "id": m["uuid"],
        "forvirtualnetwork": bool(m["for_virtual_network"]),
        "forsystemvms": bool(m["for_system_vms"]),
        "zoneid": m["zone_uuid"],
        "podid": m["pod_uuid"],
        "podname": m["pod_name"],
        "physicalnetworkid": m["network_uuid"],
        "vlan": m["vlan"],
        "gateway": m["gateway"],
        "netmask": m["netmask"],
        "startip": m["start_ip"],
        "endip": m["end_ip"],
        "ip6gateway": m["ip6_gateway"],
        "ip6cidr": m["ip6_cidr"],
        "description": f"{m['start_ip']}-{m['end_ip']}" if m["start_ip"] else None,
    }


def _select() -> Any:
    return (
        select(
            vlan_ip_range,
            zone.c.uuid.label("zone_uuid"),
            pod.c.uuid.label("pod_uuid"),
            pod.c.name.label("pod_name"),
            physical_network.c.uuid.label("network_uuid"),
        )
        .join(zone, zone.c.id == vlan_ip_range.c.zone_id)
        .outerjoin(pod, pod.c.id == vlan_ip_range.c.pod_id)
        .outerjoin(physical_network, physical_network.c.id == vlan_ip_range.c.physical_network_id)
    )


def _public_network(conn: Connection, zone_id: int) -> int | None:
    """The zone's physical network carrying Public traffic (CloudStack's default for public ranges)."""
    query = (
        select(physical_network.c.id)
        .join(
            physical_network_traffic_type, physical_network_traffic_type.c.physical_network_id == physical_network.c.id
        )
        .where(physical_network.c.zone_id == zone_id, live(physical_network))
        .where(physical_network_traffic_type.c.traffic_type == "Public")
        .order_by(physical_network.c.id)
        .limit(1)
    )
    return conn.execute(query).scalar()


def _overlaps(conn: Connection, zone_id: int, start: ipaddress.IPv4Address, end: ipaddress.IPv4Address) -> bool:
    # Ranges per zone are few; comparing addresses numerically in Python is exact on both databases.
    rows = conn.execute(
        select(vlan_ip_range.c.start_ip, vlan_ip_range.c.end_ip).where(
            and_(vlan_ip_range.c.zone_id == zone_id, live(vlan_ip_range), vlan_ip_range.c.start_ip.is_not(None))
        )
    ).all()
    for other_start, other_end in rows:
        low, high = ipaddress.IPv4Address(other_start), ipaddress.IPv4Address(other_end or other_start)
        if start <= high and low <= end:
            return True
    return False


def create_vlan_ip_range(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str | None = None,
    podid: str | None = None,
    physicalnetworkid: str | None = None,
    network_id: int | None = None,
    gateway: str,
    netmask: str,
    startip: str,
    endip: str | None = None,
    vlan: str | None = None,
    forvirtualnetwork: bool | None = None,
    forsystemvms: bool = False,
) -> Row:
    """Add an IP range (``createVlanIpRange``): public (``forvirtualnetwork=true``), pod or shared-network.

    Args:
        conn: the connection.
        caller: must be a root admin.
        zoneid: the zone (taken from the pod when only ``podid`` is given).
        podid: for a pod (Basic zone guest) range.
        physicalnetworkid: defaults to the zone's physical network carrying Public traffic.
        network_id: internal id of the shared guest network the range belongs to.
        gateway: the range's gateway.
        netmask: the range's netmask.
        startip: first address.
        endip: last address (defaults to ``startip``).
        vlan: VLAN number, or untagged.
        forvirtualnetwork: true for public ranges (the default when no pod and no network is given).
        forsystemvms: reserve the range for system VMs.

    Raises:
        ParamError: unknown ids, a bad or overlapping range (431).
    """
    require_root(caller, "createVlanIpRange")
    pod_row = get_live(conn, pod, podid, "podid") if podid else None
    if zoneid:
        zone_row = get_live(conn, zone, zoneid, "zoneid")
    elif pod_row is not None:
        zone_row = conn.execute(select(zone).where(zone.c.id == pod_row["zone_id"])).mappings().one()
    else:
        raise ParamError("Please specify a valid zone (zoneid) or pod (podid) for the IP range")
    if pod_row is not None and pod_row["zone_id"] != zone_row["id"]:
        raise ParamError(f"Pod {pod_row['name']} does not belong to zone {zone_row['name']}")
    network = ip_network(gateway, netmask)
    start = ip_address(startip, "startip")
    end = ip_address(endip, "endip") if endip else start
    if not isinstance(start, ipaddress.IPv4Address) or not isinstance(end, ipaddress.IPv4Address):
        raise ParamError("Please specify IPv4 start and end addresses")
    if start not in network or end not in network:
        raise ParamError(f"Please specify a valid IP range; {startip}-{endip or startip} is not in {network}")
    if end < start:
        raise ParamError("Please specify a valid IP range; the start IP is greater than the end IP")
    if _overlaps(conn, zone_row["id"], start, end):
        raise ParamError(
            "The IP range already has IPs that overlap with the new range. Please specify a different start IP/end IP."
        )
    public = forvirtualnetwork if forvirtualnetwork is not None else (pod_row is None and network_id is None)
    if physicalnetworkid:
        network_pk: int | None = get_live(conn, physical_network, physicalnetworkid, "physicalnetworkid")["id"]
    else:
        network_pk = _public_network(conn, zone_row["id"]) if public else None
    new_id = conn.execute(
        insert(vlan_ip_range).values(
            zone_id=zone_row["id"],
            pod_id=pod_row["id"] if pod_row is not None else None,
            physical_network_id=network_pk,
            network_id=network_id,
            vlan=vlan_tag(vlan),
            gateway=gateway.strip(),
            netmask=str(network.netmask),
            start_ip=str(start),
            end_ip=str(end),
            ip_count=int(end) - int(start) + 1,
            for_virtual_network=public,
            for_system_vms=forsystemvms,
        )
    ).inserted_primary_key
    assert new_id is not None
    return range_row(conn.execute(_select().where(vlan_ip_range.c.id == new_id[0])).mappings().one())


def list_vlan_ip_ranges(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    podid: str | None = None,
    physicalnetworkid: str | None = None,
    network_id: int | None = None,
    vlan: str | None = None,
    forvirtualnetwork: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List IP ranges (``listVlanIpRanges``), root admin only; ``keyword`` matches the VLAN."""
    require_root(caller, "listVlanIpRanges")
    table = vlan_ip_range
    conditions = [live(table)]
    if id:
        conditions.append(table.c.uuid == id.lower())
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.lower())
    if podid:
        conditions.append(pod.c.uuid == podid.lower())
    if physicalnetworkid:
        conditions.append(physical_network.c.uuid == physicalnetworkid.lower())
    if network_id is not None:
        conditions.append(table.c.network_id == network_id)
    if vlan:
        conditions.append(table.c.vlan == vlan_tag(vlan))
    if keyword:
        conditions.append(contains(table.c.vlan, keyword))
    if forvirtualnetwork is not None:
        conditions.append(table.c.for_virtual_network.is_(forvirtualnetwork))
    rows, total = list_page(conn, _select().where(*conditions), [table.c.id], page, pagesize)
    return [range_row(m) for m in rows], total


def delete_vlan_ip_range(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    in_use: RangeUsage | None = None,
) -> None:
    """Remove an IP range (``deleteVlanIpRange``).

    Raises:
        ResourceInUseError: addresses of the range are allocated (536).
    """
    require_root(caller, "deleteVlanIpRange")
    row = get_live(conn, vlan_ip_range, id)
    if in_use is not None and in_use(row["uuid"]):
        raise ResourceInUseError(f"The IP range with id {row['uuid']} can't be deleted as some IPs are in use")
    soft_delete(conn, vlan_ip_range, row["id"])
