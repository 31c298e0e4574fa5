"""Pods (``createPod``, ``updatePod``, ``listPods``, ``deletePod``): a rack's management IP range."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import cluster, host, pod, storage_pool, vlan_ip_range, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    exists,
    get_live,
    ip_address,
    ip_network,
    require_root,
    soft_delete,
)
from provisioner.services.infrastructure.zones import ALLOCATION_STATES, canonical
from provisioner.services.principal import Caller


def pod_row(m: RowMapping) -> Row:
    """A ``pod`` row joined with its zone's uuid/name (``zone_uuid``, ``zone_name``) as ``PodResponse``.

    ``startip``/``endip`` are lists (one entry per range) as in CloudStack 4.11+ and cloudstack-go.
    """
    netmask = str(ipaddress.IPv4Network(m["cidr"]).netmask) if m["cidr"] else None
    has_range = m["start_ip"] is not None
    return {
        "id": m["uuid"],
        "name": m["name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "gateway": m["gateway"],
        "netmask": netmask,
        "startip": [m["start_ip"]] if has_range else [],
        "endip": [m["end_ip"]] if has_range else [],
        "forsystemvms": ["0"] if has_range else [],
        "vlanid": [""] if has_range else [],
        "ipranges": (
            [
                {
                    "startip": m["start_ip"],
                    "endip": m["end_ip"],
                    "gateway": m["gateway"],
                    "forsystemvms": "0",
                    "vlanid": "",
                }
            ]
            if has_range
            else []
        ),
        "allocationstate": m["allocation_state"],
        "created": m["created"],
    }


def _select() -> Any:
    return select(pod, zone.c.uuid.label("zone_uuid"), zone.c.name.label("zone_name")).join(
        zone, zone.c.id == pod.c.zone_id
    )


def _one(conn: Connection, pod_id: int) -> Row:
    return pod_row(conn.execute(_select().where(pod.c.id == pod_id)).mappings().one())


def check_range(gateway: str, netmask: str, startip: str, endip: str | None) -> tuple[str, str, str]:
    """Validate a pod range: start and end inside the gateway's network, in order, not covering the gateway.

    Returns:
        ``(cidr, start, end)``; ``end`` defaults to the network's last usable address.

    Raises:
        ParamError: CloudStack's texts for each broken rule (431).
    """
    network = ip_network(gateway, netmask)
    start = ip_address(startip, "startip")
    end = ip_address(endip, "endip") if endip else network.broadcast_address - 1
    gw = ipaddress.ip_address(gateway.strip())
    if start not in network:
        raise ParamError("The start address of the IP range is not in the CIDR subnet.")
    if end not in network:
        raise ParamError("The end address of the IP range is not in the CIDR subnet.")
    if end < start:  # type: ignore[operator]
        raise ParamError("The start IP address must have a lower value than the end IP address.")
    if start <= gw <= end:  # type: ignore[operator]
        raise ParamError("The gateway shouldn't overlap start/end ip addresses")
    return str(network), str(start), str(end)


def create_pod(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str,
    name: str,
    gateway: str | None = None,
    netmask: str | None = None,
    startip: str | None = None,
    endip: str | None = None,
    allocationstate: str | None = None,
) -> Row:
    """Create a pod in a zone with its management IP range (``createPod``).

    Raises:
        ParamError: unknown zone, a pod of that name in the zone, or a bad range.
    """
    require_root(caller, "createPod")
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    if exists(conn, pod, pod.c.zone_id == zone_row["id"], pod.c.name == name):
        raise ParamError(
            f"A pod with name {name} already exists in zone {zone_row['name']}. Please specify a different pod name."
        )
    cidr = start = end = None
    if gateway or netmask or startip:
        if not (gateway and netmask and startip):
            raise ParamError("gateway, netmask and startip must be given together")
        cidr, start, end = check_range(gateway, netmask, startip, endip)
    new_id = conn.execute(
        insert(pod).values(
            name=name,
            zone_id=zone_row["id"],
            gateway=gateway,
            cidr=cidr,
            start_ip=start,
            end_ip=end,
            allocation_state=canonical(allocationstate or "Enabled", ALLOCATION_STATES, "allocation state"),
        )
    ).inserted_primary_key
    assert new_id is not None
    return _one(conn, new_id[0])


def update_pod(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    gateway: str | None = None,
    netmask: str | None = None,
    startip: str | None = None,
    endip: str | None = None,
    allocationstate: str | None = None,
) -> Row:
    """Change a pod (``updatePod``); range fields not given keep their values."""
    require_root(caller, "updatePod")
    row = get_live(conn, pod, id)
    values: dict[str, Any] = {}
    if name is not None and name != row["name"]:
        if exists(conn, pod, pod.c.zone_id == row["zone_id"], pod.c.name == name):
            raise ParamError(
                f"A pod with name {name} already exists in this zone. Please specify a different pod name."
            )
        values["name"] = name
    if any(value is not None for value in (gateway, netmask, startip, endip)):
        old_mask = str(ipaddress.IPv4Network(row["cidr"]).netmask) if row["cidr"] else None
        new_gateway, new_mask, new_start = gateway or row["gateway"], netmask or old_mask, startip or row["start_ip"]
        if not (new_gateway and new_mask and new_start):
            raise ParamError("gateway, netmask and startip must be given together")
        cidr, start, end = check_range(new_gateway, new_mask, new_start, endip or (None if startip else row["end_ip"]))
        values.update(gateway=new_gateway, cidr=cidr, start_ip=start, end_ip=end)
    if allocationstate is not None:
        values["allocation_state"] = canonical(allocationstate, ALLOCATION_STATES, "allocation state")
    if values:
        conn.execute(update(pod).where(pod.c.id == row["id"]).values(**values))
    return _one(conn, row["id"])


def list_pods(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    allocationstate: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List pods (``listPods``), root admin only."""
    require_root(caller, "listPods")
    conditions = common_filters(pod, id=id, ids=ids, name=name, keyword=keyword)
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.lower())
    if allocationstate:
        conditions.append(pod.c.allocation_state == canonical(allocationstate, ALLOCATION_STATES, "allocation state"))
    rows, total = list_page(conn, _select().where(*conditions), [pod.c.id], page, pagesize)
    return [pod_row(m) for m in rows], total


def delete_pod(conn: Connection, caller: Caller, id: str) -> None:
    """Delete an empty pod (``deletePod``).

    Raises:
        ResourceInUseError: hosts, clusters, pools or IP ranges remain in it (536).
    """
    require_root(caller, "deletePod")
    row = get_live(conn, pod, id)
    blockers = (
        (host, "there are servers in this pod"),
        (cluster, "there are clusters in this pod"),
        (storage_pool, "there are storage pools in this pod"),
        (vlan_ip_range, "there are IP ranges in this pod"),
    )
    for table, reason in blockers:
        if exists(conn, table, table.c.pod_id == row["id"]):
            raise ResourceInUseError(f"The pod is not deletable because {reason}")
    soft_delete(conn, pod, row["id"])
