"""A VM's NICs: ``listNics``, ``addNicToVirtualMachine``, ``removeNicFromVirtualMachine``,
``updateDefaultNicForVirtualMachine``, ``updateVmNicIp``.

Addresses come from the network's range through ``services/compute/ipam.py`` (the unique
``(network_id, number)`` index is the final guard, so two NICs never get one address, whatever
runs concurrently); MACs from ``services/compute/macs.py``. Adding and removing a NIC is recorded
here; :mod:`.nic_plug` tells the hypervisor (hot-plug into a running VM). An address changed on a
running VM reaches the guest through DHCP.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from provisioner.db.schema import guest_network, ip_address, nic, utcnow, vm_instance, zone
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.common import list_page
from provisioner.services.compute import ipam, macs
from provisioner.services.infrastructure.common import Row, get_live
from provisioner.services.networks.access import check_network_access
from provisioner.services.networks.defaults import implement_network
from provisioner.services.principal import Caller
from provisioner.services.volumes.ownership import check_owner_access

#: VM states in which NICs may be added, removed or changed (CloudStack: Running or Stopped).
NIC_CHANGE_STATES = ("Running", "Stopped")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _select() -> Any:
    return (
        select(
            nic,
            vm_instance.c.uuid.label("vm_uuid"),
            guest_network.c.uuid.label("network_uuid"),
            guest_network.c.name.label("network_name"),
            guest_network.c.traffic_type,
            guest_network.c.guest_type,
            guest_network.c.vlan.label("network_vlan"),
        )
        .join(vm_instance, vm_instance.c.id == nic.c.vm_id)
        .join(guest_network, guest_network.c.id == nic.c.network_id)
    )


def nic_row(m: RowMapping) -> Row:
    """A NIC as ``NicResponse`` (what ``listNics`` answers)."""
    uri = m["broadcast_uri"] or m["network_vlan"]
    return {
        "id": m["uuid"],
        "networkid": m["network_uuid"],
        "networkname": m["network_name"],
        "ipaddress": m["ip_address"],
        "netmask": m["netmask"],
        "gateway": m["gateway"],
        "macaddress": m["mac_address"],
        "isdefault": bool(m["is_default"]),
        "traffictype": m["traffic_type"],
        "type": m["guest_type"],
        "broadcasturi": uri,
        "isolationuri": uri,
        "deviceid": str(m["device_id"]),
        "mode": m["mode"],
        "virtualmachineid": m["vm_uuid"],
    }


def vm_for_nics(conn: Connection, caller: Caller, uuid: str, param: str = "virtualmachineid") -> RowMapping:
    """The live VM ``uuid`` the caller may act on.

    Raises:
        ParamError: no such VM (431); PermissionDeniedError: another account's VM (531).
    """
    row = get_live(conn, vm_instance, uuid, param)
    check_owner_access(conn, caller, row["account_id"], row["domain_id"], f"virtual machine {uuid}")
    return row


def _changeable(vm: RowMapping, verb: str) -> None:
    if vm["state"] not in NIC_CHANGE_STATES:
        raise ParamError(f"VM {vm['name']} is {vm['state']}: NICs can be {verb} only while it is Running or Stopped")


def list_nics(
    conn: Connection,
    caller: Caller,
    *,
    virtualmachineid: str,
    nicid: str | None = None,
    networkid: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """The live NICs of a VM the caller may see (``listNics``), by device order."""
    vm = vm_for_nics(conn, caller, virtualmachineid)
    conditions = [nic.c.vm_id == vm["id"], nic.c.removed.is_(None)]
    if nicid:
        conditions.append(nic.c.uuid == nicid.lower())
    if networkid:
        conditions.append(guest_network.c.uuid == networkid.lower())
    if keyword:
        conditions.append(guest_network.c.name.contains(keyword, autoescape=True))
    rows, total = list_page(conn, _select().where(*conditions), [nic.c.device_id, nic.c.id], page, pagesize)
    return [nic_row(m) for m in rows], total


def _check_mac(conn: Connection, value: str) -> str:
    mac = value.strip().lower()
    if not _MAC.match(mac) or int(mac[:2], 16) & 1:
        raise ParamError(f"Mac address is not valid: {value}; give a unicast MAC such as 02:00:0a:0b:0c:0d")
    if macs.mac_in_use(conn, mac):
        raise ParamError(f"Mac address {mac} is already in use by another NIC")
    return mac


def add_nic(
    conn: Connection,
    caller: Caller,
    *,
    virtualmachineid: str,
    networkid: str,
    ipaddress: str | None = None,
    macaddress: str | None = None,
) -> int:
    """Record a new NIC of a VM (:func:`add_nic_row`); returns the VM's id."""
    vm_id, _nic_id = add_nic_row(
        conn, caller, virtualmachineid=virtualmachineid, networkid=networkid, ipaddress=ipaddress, macaddress=macaddress
    )
    return vm_id


def add_nic_row(
    conn: Connection,
    caller: Caller,
    *,
    virtualmachineid: str,
    networkid: str,
    ipaddress: str | None = None,
    macaddress: str | None = None,
) -> tuple[int, int]:
    """Give a VM a NIC on another network (``addNicToVirtualMachine``) in the database; returns the VM's and
    the NIC's ids (:mod:`.nic_plug` then plugs it into a running VM).

    Raises:
        ParamError: the VM is not Running or Stopped, already has a NIC there, the network is in another
            zone, the address or MAC is invalid or taken (431).
        InsufficientCapacityError: the network has no free address (533).
        PermissionDeniedError: the VM or the network is not the caller's to use (531).
    """
    vm = vm_for_nics(conn, caller, virtualmachineid)
    network = get_live(conn, guest_network, networkid, "networkid")
    check_network_access(conn, caller, network)
    _changeable(vm, "added")
    zone_row = conn.execute(select(zone.c.name, zone.c.network_type).where(zone.c.id == vm["zone_id"])).one()
    if str(zone_row.network_type).lower() == "basic":
        raise InternalError(
            f"Zone {zone_row.name}, has a NetworkType of Basic. Can't add a new NIC to a VM on a Basic Network"
        )
    if network["zone_id"] != vm["zone_id"]:
        raise ParamError(f"Network {network['name']} is in another zone than VM {vm['name']}")
    existing = select(nic.c.id).where(
        nic.c.vm_id == vm["id"], nic.c.network_id == network["id"], nic.c.removed.is_(None)
    )
    if conn.execute(existing).first() is not None:
        raise ParamError(f"A NIC already exists for VM: {vm['instance_name']} in network: {network['uuid']}")
    source: macs.MacSource | None = None
    if macaddress:
        chosen = _check_mac(conn, macaddress)
        source = lambda: chosen  # noqa: E731  (the one MAC asked for; a race on it fails the unique index)
    ip_range = ipam.load_range(conn, network["id"])
    address = ipam.allocate_ip(conn, ip_range, vm_id=vm["id"], requested=ipaddress.strip() if ipaddress else None)
    last = conn.execute(
        select(func.max(nic.c.device_id)).where(nic.c.vm_id == vm["id"], nic.c.removed.is_(None))
    ).scalar_one()
    has_default = conn.execute(
        select(nic.c.id).where(nic.c.vm_id == vm["id"], nic.c.removed.is_(None), nic.c.is_default.is_(True))
    ).first()
    nic_id, _mac = macs.insert_nic(
        conn,
        {
            "vm_id": vm["id"],
            "network_id": network["id"],
            "ip_address": address,
            "netmask": ip_range.netmask,
            "gateway": ip_range.gateway,
            "broadcast_uri": network["vlan"],
            "device_id": 0 if last is None else int(last) + 1,
            "is_default": has_default is None,
            "mode": "Static" if ipaddress else "Dhcp",
        },
        source=source,
    )
    if vm["state"] == "Running":
        implement_network(conn, network["id"])
    return int(vm["id"]), nic_id


def _vm_nic(conn: Connection, vm: RowMapping, nicid: str) -> RowMapping:
    row = get_live(conn, nic, nicid, "nicid")
    if row["vm_id"] != vm["id"]:
        raise ParamError(f"Nic {nicid} does not belong to virtual machine {vm['uuid']}")
    return row


def _release_address(conn: Connection, network_id: int, vm_id: int, address: str | None) -> None:
    if address:
        ipam.release_ips(
            conn,
            ip_address.c.network_id == network_id,
            ip_address.c.vm_id == vm_id,
            ip_address.c.number == int(ipaddress.ip_address(address)),
        )


def removable_nic(conn: Connection, caller: Caller, *, virtualmachineid: str, nicid: str) -> tuple[int, int]:
    """Check that a NIC may be removed (``removeNicFromVirtualMachine``); returns the VM's and the NIC's ids.

    Raises:
        ParamError: the NIC is the default one or another VM's, or the VM is not Running or Stopped (431).
    """
    vm = vm_for_nics(conn, caller, virtualmachineid)
    row = _vm_nic(conn, vm, nicid)
    _changeable(vm, "removed")
    if row["is_default"]:
        raise ParamError(
            f"Unable to remove nic from VM {vm['instance_name']} in network {row['network_id']}, nic is default; "
            "make another NIC the default first (updateDefaultNicForVirtualMachine)"
        )
    return int(vm["id"]), int(row["id"])


def forget_nic(conn: Connection, nic_id: int) -> None:
    """Retire a live NIC: its address is freed and the row marked Released and removed (its MAC freed too)."""
    row = conn.execute(select(nic).where(nic.c.id == nic_id, nic.c.removed.is_(None))).mappings().first()
    if row is None:
        return
    _release_address(conn, row["network_id"], row["vm_id"], row["ip_address"])
    conn.execute(update(nic).where(nic.c.id == nic_id).values(state="Released", removed=utcnow()))


def remove_nic(conn: Connection, caller: Caller, *, virtualmachineid: str, nicid: str) -> int:
    """Remove a non-default NIC and free its address in the database (:func:`removable_nic`); returns the VM's id."""
    vm_id, nic_id = removable_nic(conn, caller, virtualmachineid=virtualmachineid, nicid=nicid)
    forget_nic(conn, nic_id)
    return vm_id


def update_default_nic(conn: Connection, caller: Caller, *, virtualmachineid: str, nicid: str) -> int:
    """Make a NIC the VM's default (``updateDefaultNicForVirtualMachine``); returns the VM's id.

    Raises:
        ParamError: the NIC is already the default, another VM's, or the VM is not Running or Stopped (431).
    """
    vm = vm_for_nics(conn, caller, virtualmachineid)
    row = _vm_nic(conn, vm, nicid)
    _changeable(vm, "changed")
    if row["is_default"]:
        raise ParamError(f"The specified NIC is already the default for VM: {vm['instance_name']}")
    conn.execute(
        update(nic).where(nic.c.vm_id == vm["id"], nic.c.removed.is_(None)).values(is_default=nic.c.id == row["id"])
    )
    return int(vm["id"])


def update_nic_ip(conn: Connection, caller: Caller, *, nicid: str, ipaddress: str | None = None) -> int:
    """Give a NIC another address of its network (``updateVmNicIp``); returns the VM's id.

    Without ``ipaddress`` the NIC gets the first free one. The new address is taken before the old one is
    freed, in one transaction, so a concurrent request can never be handed either twice.

    Raises:
        ParamError: the address is outside the range or taken; an isolated network's VM is not Stopped (431).
        InsufficientCapacityError: no free address left (533).
    """
    row = get_live(conn, nic, nicid, "nicid")
    vm = vm_for_nics(
        conn, caller, conn.execute(select(vm_instance.c.uuid).where(vm_instance.c.id == row["vm_id"])).scalar_one()
    )
    network = conn.execute(select(guest_network).where(guest_network.c.id == row["network_id"])).mappings().one()
    check_network_access(conn, caller, network)
    _changeable(vm, "changed")
    if network["guest_type"] == "Isolated" and vm["state"] != "Stopped":
        raise ParamError("VM is not Stopped, unable to update the vm nic having the specified id")
    wanted = ipaddress.strip() if ipaddress else None
    if wanted is not None and wanted == row["ip_address"]:
        return int(vm["id"])
    ip_range = ipam.load_range(conn, network["id"])
    address = ipam.allocate_ip(conn, ip_range, vm_id=vm["id"], requested=wanted)
    _release_address(conn, network["id"], vm["id"], row["ip_address"])
    conn.execute(
        update(nic).where(nic.c.id == row["id"]).values(ip_address=address, mode="Static" if wanted else row["mode"])
    )
    return int(vm["id"])
