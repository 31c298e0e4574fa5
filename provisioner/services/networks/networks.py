"""Guest networks: ``createNetwork``, ``listNetworks``, ``updateNetwork``, ``deleteNetwork``, ``restartNetwork``.

Isolated networks belong to an account and default to the zone's guest CIDR; shared networks are
created by root admins with their gateway, netmask, address range and VLAN, for one account or a
domain (``acltype=Domain``, zone-wide in ROOT). Addresses come from ``services/compute/ipam.py``:
the gateway is reserved at creation, NICs take the first free address of the range. Isolated
networks start Allocated and become Implemented with their first running VM; shared ones are Setup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, exists, false, or_, select, update

from provisioner.db.schema import (
    account,
    domain,
    guest_network,
    ip_address,
    network_offering,
    network_offering_service,
    nic,
    physical_network,
    resource_tag,
    utcnow,
    vm_instance,
    zone,
)
from provisioner.exceptions import InternalError, ParamError, PermissionDeniedError
from provisioner.services.common import contains, list_page
from provisioner.services.compute import ipam
from provisioner.services.infrastructure.common import Row, get_live, ip_network, split_csv
from provisioner.services.infrastructure.common import ip_address as parse_ip
from provisioner.services.infrastructure.vlan_ranges import UNTAGGED, vlan_tag
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.networks.access import check_network_access, domain_network_condition
from provisioner.services.networks.defaults import (
    DEFAULT_GUEST_CIDR,
    guest_physical_network,
    isolated_network_domain,
)
from provisioner.services.principal import Caller
from provisioner.services.tags import Owner, register_resource_type, tagged_with, tags_by_resource
from provisioner.services.volumes.ownership import list_scope, resolve_owner

GUEST_TYPES = ("Isolated", "Shared", "L2")
ACL_TYPES = ("Account", "Domain")
#: ``networkfilter`` values of ``listNetworks``.
NETWORK_FILTERS = ("All", "Account", "Domain", "AccountDomain", "Shared")
TAG_TYPE = "Network"


def _select() -> Any:
    offering = network_offering
    return (
        select(
            guest_network,
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            zone.c.network_type.label("zone_network_type"),
            offering.c.uuid.label("offering_uuid"),
            offering.c.name.label("offering_name"),
            offering.c.display_text.label("offering_display_text"),
            offering.c.conserve_mode.label("offering_conserve_mode"),
            offering.c.availability.label("offering_availability"),
            offering.c.specify_ip_ranges.label("offering_specify_ip_ranges"),
            offering.c.is_persistent.label("offering_is_persistent"),
            offering.c.egress_default_policy.label("offering_egress_default_policy"),
            physical_network.c.uuid.label("physical_network_uuid"),
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(zone, zone.c.id == guest_network.c.zone_id)
        .outerjoin(offering, offering.c.id == guest_network.c.network_offering_id)
        .outerjoin(physical_network, physical_network.c.id == guest_network.c.physical_network_id)
        .outerjoin(account, account.c.id == guest_network.c.account_id)
        .outerjoin(domain, domain.c.id == guest_network.c.domain_id)
    )


def _services(conn: Connection, offering_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    table = network_offering_service
    grouped: dict[int, dict[str, list[str]]] = {}
    query = select(table.c.network_offering_id, table.c.service, table.c.provider).where(
        table.c.network_offering_id.in_(offering_ids)
    )
    for offering_id, service, provider in conn.execute(query.order_by(table.c.id)):
        grouped.setdefault(offering_id, {}).setdefault(service, []).append(provider)
    return {
        key: [{"name": s, "provider": [{"name": p} for p in providers]} for s, providers in services.items()]
        for key, services in grouped.items()
    }


def network_row(m: RowMapping, services: list[dict[str, Any]], tags: list[Row], *, admin: bool) -> Row:
    """A network as ``NetworkResponse`` (``vlan`` and ``broadcasturi`` for admins only, as CloudStack)."""
    vlan = m["vlan"]
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displaytext": m["display_text"] or m["name"],
        "type": m["guest_type"],
        "traffictype": m["traffic_type"],
        "state": m["state"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "cidr": m["cidr"],
        "gateway": m["gateway"],
        "netmask": m["netmask"],
        "dns1": m["dns1"],
        "dns2": m["dns2"],
        "networkdomain": m["network_domain"],
        "networkofferingid": m["offering_uuid"],
        "networkofferingname": m["offering_name"],
        "networkofferingdisplaytext": m["offering_display_text"],
        "networkofferingconservemode": bool(m["offering_conserve_mode"]),
        "networkofferingavailability": m["offering_availability"],
        "specifyipranges": bool(m["offering_specify_ip_ranges"]),
        "ispersistent": bool(m["offering_is_persistent"]),
        "egressdefaultpolicy": bool(m["offering_egress_default_policy"]),
        "physicalnetworkid": m["physical_network_uuid"],
        "broadcastdomaintype": "Native" if str(m["zone_network_type"]).lower() == "basic" else "Vlan",
        "broadcasturi": vlan if admin else None,
        "vlan": vlan.removeprefix("vlan://") if admin and vlan else None,
        "acltype": m["acl_type"],
        "subdomainaccess": True if m["acl_type"] == "Domain" else None,
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "domainpath": "ROOT" + m["domain_path"].rstrip("/") if m["domain_path"] else None,
        "isdefault": bool(m["is_default"]),
        "issystem": False,
        "restartrequired": False,
        "canusefordeploy": m["state"] not in ("Destroy", "Shutdown"),
        "displaynetwork": True,
        "redundantrouter": False,
        "service": services,
        "tags": tags,
        "created": m["created"],
    }


def _rows(conn: Connection, caller: Caller, rows: Sequence[RowMapping]) -> list[Row]:
    services = _services(conn, sorted({m["network_offering_id"] for m in rows if m["network_offering_id"]}))
    tags = tags_by_resource(conn, TAG_TYPE, [m["uuid"] for m in rows])
    return [
        network_row(m, services.get(m["network_offering_id"], []), tags.get(m["uuid"], []), admin=caller.is_root_admin)
        for m in rows
    ]


def get_network(conn: Connection, caller: Caller, network_id: int) -> Row:
    """One network as the caller sees it."""
    return _rows(conn, caller, [conn.execute(_select().where(guest_network.c.id == network_id)).mappings().one()])[0]


def network_by_uuid(conn: Connection, caller: Caller, uuid: str, param: str = "id") -> RowMapping:
    """The live network ``uuid`` the caller may use.

    Raises:
        ParamError: no such network (431); PermissionDeniedError: not the caller's to use (531).
    """
    row = get_live(conn, guest_network, uuid, param)
    check_network_access(conn, caller, row)
    return row


def _offering(conn: Connection, uuid: str) -> RowMapping:
    row = get_live(conn, network_offering, uuid, "networkofferingid")
    if row["state"] != "Enabled":
        raise ParamError(
            f"Network offering {row['name']} is not in Enabled state: enable it with updateNetworkOffering"
        )
    if row["is_system"]:
        raise ParamError(f"Network offering {row['name']} is a system offering; guest networks cannot use it")
    return row


def _vlan(conn: Connection, caller: Caller, offering: RowMapping, zone_row: RowMapping, vlan: str | None) -> str | None:
    if vlan is None or vlan.strip() == "":
        if offering["specify_vlan"] and str(zone_row["network_type"]).lower() == "advanced":
            raise ParamError(f"Network offering {offering['name']} requires a vlan: pass vlan (a number, or untagged)")
        return None
    if not caller.is_root_admin:
        raise PermissionDeniedError("Only ROOT admin is allowed to specify vlan")
    if not offering["specify_vlan"]:
        raise ParamError(f"Can't specify vlan; corresponding offering {offering['name']} says specifyVlan=false")
    tag = vlan_tag(vlan)
    if tag != UNTAGGED:
        clash = conn.execute(
            select(guest_network.c.name).where(
                guest_network.c.zone_id == zone_row["id"],
                guest_network.c.vlan == tag,
                guest_network.c.removed.is_(None),
            )
        ).first()
        if clash is not None:
            raise ParamError(
                f"The VLAN tag {tag.removeprefix('vlan://')} is already being used by network {clash[0]} "
                f"in zone {zone_row['name']}"
            )
    return tag


def _addressing(
    offering: RowMapping,
    zone_row: RowMapping,
    *,
    gateway: str | None,
    netmask: str | None,
    startip: str | None,
    endip: str | None,
) -> dict[str, Any]:
    """cidr/gateway/netmask/start/end for a new network."""
    shared = offering["guest_ip_type"] == "Shared"
    if bool(gateway) != bool(netmask):
        raise ParamError("gateway and netmask go together: pass both, or neither")
    if gateway and netmask:
        cidr = ip_network(gateway, netmask)
        gateway = gateway.strip()
    elif shared:
        raise ParamError("Shared networks need gateway and netmask (and startip/endip of the guest range)")
    else:
        cidr = ipaddress.IPv4Network(zone_row["guest_cidr"] or DEFAULT_GUEST_CIDR, strict=False)
        gateway = str(next(cidr.hosts()))
    if ipaddress.ip_address(gateway) not in cidr or gateway in (str(cidr.network_address), str(cidr.broadcast_address)):
        raise ParamError(f"The gateway {gateway} is not a host address of the network {cidr}")
    start = end = None
    if startip or endip:
        if not startip:
            raise ParamError("endip needs startip: pass the first address of the range too")
        if not offering["specify_ip_ranges"] and not shared:
            raise ParamError(f"Network offering {offering['name']} does not support specifying IP ranges")
        start = parse_ip(startip, "startip")
        end = parse_ip(endip or startip, "endip")
        for label, value in (("startip", start), ("endip", end)):
            if value not in cidr:
                raise ParamError(f"The {label} {value} is not in the network {cidr} of gateway {gateway}")
        if int(start) > int(end):
            raise ParamError(f"The startip {start} is after the endip {end}")
    elif shared:
        raise ParamError("Shared networks need startip (and endip) of the range VMs get addresses from")
    return {
        "cidr": str(cidr),
        "gateway": gateway,
        "netmask": str(cidr.netmask),
        "start_ip": str(start) if start else None,
        "end_ip": str(end) if end else None,
    }


def create_network(
    conn: Connection,
    caller: Caller,
    *,
    networkofferingid: str,
    zoneid: str,
    name: str,
    displaytext: str | None = None,
    gateway: str | None = None,
    netmask: str | None = None,
    startip: str | None = None,
    endip: str | None = None,
    vlan: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    acltype: str | None = None,
    networkdomain: str | None = None,
    physicalnetworkid: str | None = None,
) -> Row:
    """Create a guest network (``createNetwork``).

    Raises:
        ParamError: an unknown or disabled offering, bad addressing, a taken VLAN (431).
        PermissionDeniedError: a non-admin asking for a shared network, a VLAN, or another's account (531).
    """
    offering = _offering(conn, networkofferingid)
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    guest_type = offering["guest_ip_type"]
    if guest_type == "Shared" and not caller.is_root_admin:
        raise PermissionDeniedError("Only Admins can create network with guest type Shared")
    acl = canonical(acltype, ACL_TYPES, "acltype") if acltype else ("Domain" if guest_type == "Shared" else "Account")
    if acl == "Domain" and guest_type != "Shared":
        raise ParamError("AclType should be Account for Isolated and L2 networks")
    if acl == "Domain" and account_name:
        raise ParamError("Account name can't be specified for a network with aclType=Domain")
    if acl == "Account":
        owner = resolve_owner(conn, caller, account_name, domainid)
        account_id, domain_id = owner.account_id, owner.domain_id
    else:
        account_id = None
        domain_id = (
            get_live(conn, domain, domainid, "domainid")["id"]
            if domainid
            else conn.execute(select(domain.c.id).where(domain.c.path == "/")).scalar_one()
        )
    physical_id = (
        get_live(conn, physical_network, physicalnetworkid, "physicalnetworkid")["id"]
        if physicalnetworkid
        else guest_physical_network(conn, zone_row["id"])
    )
    addressing = _addressing(offering, zone_row, gateway=gateway, netmask=netmask, startip=startip, endip=endip)
    values = {
        "name": name,
        "display_text": displaytext or name,
        "zone_id": zone_row["id"],
        "physical_network_id": physical_id,
        "network_offering_id": offering["id"],
        "guest_type": guest_type,
        "acl_type": acl,
        "state": "Setup" if guest_type == "Shared" else "Allocated",
        "vlan": _vlan(conn, caller, offering, zone_row, vlan),
        "network_domain": networkdomain
        or (isolated_network_domain(zone_row, account_id) if account_id else zone_row["network_domain"]),
        "dns1": zone_row["dns1"],
        "dns2": zone_row["dns2"],
        "account_id": account_id,
        "domain_id": domain_id,
        **addressing,
    }
    return get_network(conn, caller, ipam.create_guest_network(conn, values))


def _type_condition(value: str) -> Any:
    return guest_network.c.guest_type == canonical(value, GUEST_TYPES, "guest type")


def _visibility(
    conn: Connection,
    caller: Caller,
    *,
    account_name: str | None,
    domainid: str | None,
    listall: bool,
    isrecursive: bool,
    by_id: bool,
    networkfilter: str | None,
) -> Any:
    account_networks = list_scope(
        conn,
        caller,
        guest_network.c.account_id,
        guest_network.c.domain_id,
        account_name=account_name,
        domain_uuid=domainid,
        listall=listall,
        isrecursive=isrecursive,
        by_id=by_id,
    )
    chosen = canonical(networkfilter, NETWORK_FILTERS, "networkfilter") if networkfilter else "All"
    domain_networks = domain_network_condition(caller)
    if account_name or chosen == "Account":
        return account_networks
    if chosen in ("Domain", "Shared"):
        return domain_networks
    return or_(account_networks, domain_networks)


def list_networks(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    zoneid: str | None = None,
    type: str | None = None,
    isdefault: bool | None = None,
    issystem: bool | None = None,
    traffictype: str | None = None,
    physicalnetworkid: str | None = None,
    acltype: str | None = None,
    restartrequired: bool | None = None,
    specifyipranges: bool | None = None,
    vpcid: str | None = None,
    canusefordeploy: bool | None = None,
    forvpc: bool | None = None,
    supportedservices: Sequence[str] | None = None,
    networkofferingid: str | None = None,
    displaynetwork: bool | None = None,
    networkfilter: str | None = None,
    projectid: str | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    keyword: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    listall: bool = False,
    isrecursive: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """The guest networks the caller may see (``listNetworks``), filtered; one page and the total."""
    table = guest_network
    conditions = [
        table.c.removed.is_(None),
        _visibility(
            conn,
            caller,
            account_name=account_name,
            domainid=domainid,
            listall=listall,
            isrecursive=isrecursive,
            by_id=id is not None,
            networkfilter=networkfilter,
        ),
    ]
    # No system networks, VPCs, projects or pending restarts exist here: asking for them finds nothing.
    if issystem or vpcid or projectid or restartrequired or forvpc or displaynetwork is False:
        conditions.append(false())
    equal = {
        table.c.uuid: id.lower() if id else None,
        table.c.name: name,
        table.c.traffic_type: traffictype.capitalize() if traffictype else None,
    }
    conditions.extend(column == value for column, value in equal.items() if value)
    for column, uuid, param in (
        (table.c.zone_id, zoneid, "zoneid"),
        (table.c.physical_network_id, physicalnetworkid, "physicalnetworkid"),
        (table.c.network_offering_id, networkofferingid, "networkofferingid"),
    ):
        if uuid:
            conditions.append(column == get_live(conn, _TABLES[param], uuid, param)["id"])
    if type:
        conditions.append(_type_condition(type))
    if acltype:
        conditions.append(table.c.acl_type == canonical(acltype, ACL_TYPES, "acltype"))
    if isdefault is not None:
        conditions.append(table.c.is_default.is_(isdefault))
    if canusefordeploy:
        conditions.append(table.c.state.not_in(("Destroy", "Shutdown")))
    if specifyipranges is not None:
        conditions.append(
            table.c.network_offering_id.in_(
                select(network_offering.c.id).where(network_offering.c.specify_ip_ranges.is_(specifyipranges))
            )
        )
    for service in split_csv(supportedservices):
        conditions.append(
            exists().where(
                network_offering_service.c.network_offering_id == table.c.network_offering_id,
                network_offering_service.c.service.ilike(service),
            )
        )
    if tags:
        conditions.append(tagged_with(TAG_TYPE, table.c.uuid, tags))
    if keyword:
        conditions.append(or_(contains(table.c.name, keyword), contains(table.c.display_text, keyword)))
    keys = select(table.c.id).where(*conditions)
    rows, total = list_page(conn, _select().where(*conditions), [table.c.id], page, pagesize, keys=keys)
    return _rows(conn, caller, rows), total


_TABLES = {"zoneid": zone, "physicalnetworkid": physical_network, "networkofferingid": network_offering}


def update_network(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    displaytext: str | None = None,
    networkdomain: str | None = None,
    networkofferingid: str | None = None,
) -> Row:
    """Rename a network, change its display text, network domain, or offering (same guest type).

    Raises:
        ParamError: unknown network or offering, or an offering of another guest type (431).
        PermissionDeniedError: the caller may not change the network (531).
    """
    row = network_by_uuid(conn, caller, id)
    if row["acl_type"] == "Domain" and not caller.is_root_admin:
        raise PermissionDeniedError(f"Only root admins may change the shared network {row['name']}")
    changes: dict[str, Any] = {}
    if name:
        changes["name"] = name
    if displaytext:
        changes["display_text"] = displaytext
    if networkdomain is not None:
        changes["network_domain"] = networkdomain or None
    if networkofferingid:
        offering = _offering(conn, networkofferingid)
        if offering["guest_ip_type"] != row["guest_type"]:
            raise ParamError(
                f"Network offering {offering['name']} is for {offering['guest_ip_type']} networks; "
                f"network {row['name']} is {row['guest_type']}"
            )
        changes["network_offering_id"] = offering["id"]
    if changes:
        conn.execute(update(guest_network).where(guest_network.c.id == row["id"]).values(**changes))
    return get_network(conn, caller, row["id"])


def delete_network(conn: Connection, caller: Caller, id: str, *, forced: bool = False) -> None:
    """Delete a network no VM uses any more (``deleteNetwork``): it is marked Destroy and hidden.

    Raises:
        InternalError: a VM that is not expunged still has a NIC on it (530, CloudStack's text).
        PermissionDeniedError: the caller may not delete it (531).
    """
    row = network_by_uuid(conn, caller, id)
    if row["acl_type"] == "Domain" and not caller.is_root_admin:
        raise PermissionDeniedError(f"Only root admins may delete the shared network {row['name']}")
    user = conn.execute(
        select(vm_instance.c.name, vm_instance.c.state)
        .join(nic, nic.c.vm_id == vm_instance.c.id)
        .where(nic.c.network_id == row["id"], nic.c.removed.is_(None), vm_instance.c.removed.is_(None))
        .order_by(vm_instance.c.id)
        .limit(1)
    ).first()
    if user is not None:
        raise InternalError(
            f"Can't delete the network, not all user vms are expunged. Vm {user.name} is in {user.state} state"
        )
    conn.execute(delete(ip_address).where(ip_address.c.network_id == row["id"]))
    conn.execute(update(guest_network).where(guest_network.c.id == row["id"]).values(state="Destroy", removed=utcnow()))
    conn.execute(
        delete(resource_tag).where(
            resource_tag.c.resource_type == TAG_TYPE, resource_tag.c.resource_uuid == row["uuid"]
        )
    )


def restart_network(conn: Connection, caller: Caller, id: str, *, cleanup: bool = False) -> None:
    """``restartNetwork``: there is no virtual router to restart yet, so this checks access and succeeds."""
    network_by_uuid(conn, caller, id)


def network_owners(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
    """Owners of live networks for resource tags; Domain networks are the system's (root admins tag them)."""
    query = select(guest_network.c.uuid, guest_network.c.account_id, guest_network.c.domain_id).where(
        guest_network.c.uuid.in_(list(uuids)), guest_network.c.removed.is_(None)
    )
    return {
        uuid: (account_id, domain_id) if account_id is not None else (None, None)
        for uuid, account_id, domain_id in conn.execute(query).tuples()
    }


register_resource_type(TAG_TYPE, network_owners)
