"""Physical networks and their traffic types (``createPhysicalNetwork``, ``addTrafficType``...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from provisioner.db.schema import physical_network, physical_network_traffic_type, vlan_ip_range, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure import providers
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    exists,
    get_live,
    join_csv,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.principal import Caller

ISOLATION_METHODS = ("VLAN", "VXLAN", "GRE", "L3", "STT", "BCF_SEGMENT", "SSP", "ODL", "L3VPN", "VCS", "VSP")
TRAFFIC_TYPES = ("Guest", "Management", "Public", "Storage")
STATES = ("Enabled", "Disabled")
#: ``addTrafficType`` label parameters and their columns.
LABELS = {
    "kvmnetworklabel": "kvm_label",
    "vmwarenetworklabel": "vmware_label",
    "xennetworklabel": "xen_label",
    "hypervnetworklabel": "hyperv_label",
    "ovm3networklabel": "ovm3_label",
}


def network_row(m: RowMapping) -> Row:
    """A ``physical_network`` row as ``PhysicalNetworkResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "state": m["state"],
        "vlan": m["vlan"],
        "isolationmethods": m["isolation_methods"],
        "broadcastdomainrange": m["broadcast_domain_range"],
        "tags": m["tags"],
        "networkspeed": m["network_speed"],
    }


def _select() -> Any:
    return select(physical_network, zone.c.uuid.label("zone_uuid"), zone.c.name.label("zone_name")).join(
        zone, zone.c.id == physical_network.c.zone_id
    )


def _one(conn: Connection, network_id: int) -> Row:
    return network_row(conn.execute(_select().where(physical_network.c.id == network_id)).mappings().one())


def _check_vlan(vlan: str) -> str:
    for part in split_csv(vlan):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ParamError(f"Please specify a valid vlan range: {vlan}") from None
        if not (0 <= first <= last <= 4095):
            raise ParamError(f"Please specify a valid vlan range: {vlan}; vlans are 0-4095, start <= end")
    return ",".join(split_csv(vlan))


def create_physical_network(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str,
    name: str,
    vlan: str | None = None,
    isolationmethods: str | Sequence[str] | None = None,
    broadcastdomainrange: str | None = None,
    tags: str | Sequence[str] | None = None,
    networkspeed: str | None = None,
) -> Row:
    """Create a physical network, Disabled, with CloudStack's default providers (``createPhysicalNetwork``).

    The VirtualRouter, VpcVirtualRouter and InternalLbVm providers come Disabled (the first two
    with a virtual router element), ConfigDrive Enabled, SecurityGroupProvider in security-group zones.
    """
    require_root(caller, "createPhysicalNetwork")
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    methods = [canonical(method, ISOLATION_METHODS, "isolation method") for method in split_csv(isolationmethods)]
    if len(methods) > 1:
        raise ParamError("Only one isolation method may be specified for a physical network")
    new_id = conn.execute(
        insert(physical_network).values(
            name=name,
            zone_id=zone_row["id"],
            vlan=_check_vlan(vlan) if vlan else None,
            isolation_methods=join_csv(methods) or "VLAN",
            broadcast_domain_range=(broadcastdomainrange or "ZONE").upper(),
            tags=join_csv(split_csv(tags)),
            network_speed=networkspeed,
            state="Disabled",
        )
    ).inserted_primary_key
    assert new_id is not None
    providers.add_default_providers(conn, new_id[0], security_groups=bool(zone_row["security_groups_enabled"]))
    return _one(conn, new_id[0])


def update_physical_network(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    state: str | None = None,
    vlan: str | None = None,
    tags: str | Sequence[str] | None = None,
    networkspeed: str | None = None,
) -> Row:
    """Change a physical network (``updatePhysicalNetwork``): ``state=Enabled``, VLAN ranges, tags, speed."""
    require_root(caller, "updatePhysicalNetwork")
    row = get_live(conn, physical_network, id)
    values: dict[str, Any] = {}
    if state is not None:
        values["state"] = canonical(state, STATES, "state")
    if vlan is not None:
        values["vlan"] = _check_vlan(vlan) if vlan else None
    if tags is not None:
        values["tags"] = join_csv(split_csv(tags))
    if networkspeed is not None:
        values["network_speed"] = networkspeed
    if values:
        conn.execute(update(physical_network).where(physical_network.c.id == row["id"]).values(**values))
    return _one(conn, row["id"])


def list_physical_networks(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List physical networks (``listPhysicalNetworks``), root admin only."""
    require_root(caller, "listPhysicalNetworks")
    conditions = common_filters(physical_network, id=id, ids=ids, name=name, keyword=keyword)
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.lower())
    rows, total = list_page(conn, _select().where(*conditions), [physical_network.c.id], page, pagesize)
    return [network_row(m) for m in rows], total


def delete_physical_network(conn: Connection, caller: Caller, id: str) -> None:
    """Delete a physical network (``deletePhysicalNetwork``) with its traffic types and providers.

    Raises:
        ResourceInUseError: IP ranges still use it (536).
    """
    require_root(caller, "deletePhysicalNetwork")
    row = get_live(conn, physical_network, id)
    if exists(conn, vlan_ip_range, vlan_ip_range.c.physical_network_id == row["id"]):
        raise ResourceInUseError(f"Unable to delete physical network {row['uuid']}: IP ranges still use it")
    conn.execute(
        delete(physical_network_traffic_type).where(physical_network_traffic_type.c.physical_network_id == row["id"])
    )
    providers.remove_providers(conn, row["id"])
    soft_delete(conn, physical_network, row["id"])


# -- traffic types ----------------------------------------------------------------------------


def traffic_type_row(m: RowMapping) -> Row:
    """A traffic type as ``TrafficTypeResponse``."""
    return {
        "id": m["uuid"],
        "traffictype": m["traffic_type"],
        "physicalnetworkid": m["network_uuid"],
        "kvmnetworklabel": m["kvm_label"],
        "vmwarenetworklabel": m["vmware_label"],
        "xennetworklabel": m["xen_label"],
        "hypervnetworklabel": m["hyperv_label"],
        "ovm3networklabel": m["ovm3_label"],
        "isolationmethods": m["isolation_method"],
        "vlan": m["vlan"],
    }


def _traffic_select() -> Any:
    table = physical_network_traffic_type
    return select(table, physical_network.c.uuid.label("network_uuid")).join(
        physical_network, physical_network.c.id == table.c.physical_network_id
    )


def add_traffic_type(
    conn: Connection,
    caller: Caller,
    *,
    physicalnetworkid: str,
    traffictype: str,
    isolationmethod: str | None = None,
    vlan: str | None = None,
    **labels: str | None,
) -> Row:
    """Carry a kind of traffic on a physical network (``addTrafficType``), with per-hypervisor labels.

    Raises:
        ParamError: unknown network or type, a label parameter CloudStack lacks, or the type is there already.
    """
    require_root(caller, "addTrafficType")
    network = get_live(conn, physical_network, physicalnetworkid, "physicalnetworkid")
    kind = canonical(traffictype, TRAFFIC_TYPES, "traffic type")
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ParamError(f"addTrafficType does not take the parameter {sorted(unknown)[0]}")
    table = physical_network_traffic_type
    if conn.execute(
        select(table.c.id).where(table.c.physical_network_id == network["id"], table.c.traffic_type == kind)
    ).first():
        raise ParamError(f"Traffic type {kind} is already added to the physical network {network['name']}")
    new_id = conn.execute(
        insert(table).values(
            physical_network_id=network["id"],
            traffic_type=kind,
            isolation_method=isolationmethod,
            vlan=vlan,
            **{LABELS[key]: value for key, value in labels.items()},
        )
    ).inserted_primary_key
    assert new_id is not None
    return traffic_type_row(conn.execute(_traffic_select().where(table.c.id == new_id[0])).mappings().one())


def update_traffic_type(conn: Connection, caller: Caller, id: str, **labels: str | None) -> Row:
    """Change the labels of a traffic type (``updateTrafficType``)."""
    require_root(caller, "updateTrafficType")
    table = physical_network_traffic_type
    row = get_live(conn, table, id)
    values = {LABELS[key]: value for key, value in labels.items() if key in LABELS and value is not None}
    if set(labels) - set(LABELS):
        raise ParamError(f"updateTrafficType does not take the parameter {sorted(set(labels) - set(LABELS))[0]}")
    if values:
        conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
    return traffic_type_row(conn.execute(_traffic_select().where(table.c.id == row["id"])).mappings().one())


def delete_traffic_type(conn: Connection, caller: Caller, id: str) -> None:
    """Stop carrying a traffic type (``deleteTrafficType``)."""
    require_root(caller, "deleteTrafficType")
    row = get_live(conn, physical_network_traffic_type, id)
    conn.execute(delete(physical_network_traffic_type).where(physical_network_traffic_type.c.id == row["id"]))


def list_traffic_types(
    conn: Connection,
    caller: Caller,
    *,
    physicalnetworkid: str,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """The traffic types of one physical network (``listTrafficTypes``)."""
    require_root(caller, "listTrafficTypes")
    network = get_live(conn, physical_network, physicalnetworkid, "physicalnetworkid")
    table = physical_network_traffic_type
    query = _traffic_select().where(table.c.physical_network_id == network["id"])
    if keyword:
        query = query.where(table.c.traffic_type == canonical(keyword, TRAFFIC_TYPES, "traffic type"))
    rows, total = list_page(conn, query, [table.c.id], page, pagesize)
    return [traffic_type_row(m) for m in rows], total
