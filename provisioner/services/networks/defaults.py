"""The network a deployment without ``networkids`` lands on, as CloudStack picks it.

Advanced zone: the account's isolated network in the zone; when it has none, one is created from
the offering with ``availability=Required`` (``DefaultIsolatedNetworkOfferingWithSourceNatService``)
named ``<account>-network``, on the zone's guest CIDR, in state Allocated. It becomes Implemented
when its first VM starts (:func:`implement_network`). Basic zone: the zone's shared guest network.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, select, update

from provisioner.db.schema import (
    account,
    guest_network,
    network_offering,
    physical_network,
    physical_network_traffic_type,
)
from provisioner.exceptions import ParamError
from provisioner.services.compute import ipam

#: CloudStack's guest CIDR when the zone names none (``guest.network.cidr``' default).
DEFAULT_GUEST_CIDR = "10.1.1.0/24"
#: CloudStack's ``guest.domain.suffix`` default: isolated networks get ``cs<account id hex>cloud.internal``.
GUEST_DOMAIN_SUFFIX = "cloud.internal"
DEFAULT_ISOLATED_OFFERING = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def default_network_for_deploy(conn: Connection, account_row: Any, zone_row: Any) -> int:
    """The id of the network a deployment without ``networkids`` gets its first NIC on.

    Call inside the deployment's transaction: a network created here commits with the VM.

    Args:
        conn: a connection inside a transaction.
        account_row: the owning ``account`` row (``id``, ``name``, ``domain_id``).
        zone_row: the ``zone`` row (``id``, ``name``, ``network_type``, ``guest_cidr``, ``network_domain``).

    Raises:
        ParamError: the account has several isolated networks in the zone, no Required isolated offering
            exists, or a Basic zone has no shared guest network (431).
    """
    if str(zone_row.network_type).lower() == "basic":
        return _basic_zone_network(conn, zone_row)
    # Serialise an account's concurrent first deployments so only one creates its default network
    # (SQLite's BEGIN IMMEDIATE already does; PostgreSQL needs the row lock).
    conn.execute(select(account.c.id).where(account.c.id == account_row.id).with_for_update())
    networks = conn.execute(
        select(guest_network.c.id, guest_network.c.is_default)
        .where(
            guest_network.c.account_id == account_row.id,
            guest_network.c.zone_id == zone_row.id,
            guest_network.c.guest_type == "Isolated",
            guest_network.c.removed.is_(None),
        )
        .order_by(guest_network.c.id)
    ).all()
    if len(networks) == 1:
        return int(networks[0].id)
    defaults = [row for row in networks if row.is_default]
    if len(defaults) == 1:
        return int(defaults[0].id)
    if networks:
        raise ParamError(
            f"More than 1 default Isolated networks are found for account {account_row.name} in zone "
            f"{zone_row.name}; please specify networkIds"
        )
    return create_default_isolated_network(conn, account_row, zone_row)


def _basic_zone_network(conn: Connection, zone_row: Any) -> int:
    network_id = conn.execute(
        select(guest_network.c.id)
        .where(
            guest_network.c.zone_id == zone_row.id,
            guest_network.c.guest_type == "Shared",
            guest_network.c.removed.is_(None),
        )
        .order_by(guest_network.c.is_default.desc(), guest_network.c.id)
        .limit(1)
    ).scalar_one_or_none()
    if network_id is None:
        raise ParamError(
            f"Unable to find a default guest network in Basic zone {zone_row.name}: create its shared "
            "guest network (createNetwork with a Shared network offering) first"
        )
    return int(network_id)


def required_isolated_offering(conn: Connection) -> int:
    """The isolated offering deployments create default networks from (``availability=Required``).

    Raises:
        ParamError: there is none enabled (431).
    """
    offering = network_offering
    offering_id = conn.execute(
        select(offering.c.id)
        .where(
            offering.c.guest_ip_type == "Isolated",
            offering.c.state == "Enabled",
            offering.c.for_vpc.is_(False),
            offering.c.removed.is_(None),
        )
        .order_by(
            (offering.c.availability == "Required").desc(),
            (offering.c.name == DEFAULT_ISOLATED_OFFERING).desc(),
            offering.c.id,
        )
        .limit(1)
    ).scalar_one_or_none()
    if offering_id is None:
        raise ParamError(
            "Unable to find network offering with availability=Required to automatically create the network "
            "as a part of vm creation; enable an Isolated network offering or pass networkids"
        )
    return int(offering_id)


def guest_physical_network(conn: Connection, zone_id: int) -> int | None:
    """The zone's physical network that carries Guest traffic (the first one), if any."""
    pn, traffic = physical_network, physical_network_traffic_type
    found = conn.execute(
        select(pn.c.id)
        .join(traffic, traffic.c.physical_network_id == pn.c.id)
        .where(pn.c.zone_id == zone_id, pn.c.removed.is_(None), traffic.c.traffic_type == "Guest")
        .order_by(pn.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def isolated_network_domain(zone_row: Any, account_id: int) -> str:
    """The zone's network domain, else CloudStack's per-account ``cs<hex id>cloud.internal``."""
    return str(zone_row.network_domain or f"cs{account_id:x}{GUEST_DOMAIN_SUFFIX}")


def create_default_isolated_network(conn: Connection, account_row: Any, zone_row: Any) -> int:
    """Create ``<account>-network`` (Allocated) on the zone's guest CIDR; returns its id."""
    cidr = ipaddress.ip_network(zone_row.guest_cidr or DEFAULT_GUEST_CIDR, strict=False)
    name = f"{account_row.name}-network"
    return ipam.create_guest_network(
        conn,
        {
            "name": name,
            "display_text": name,
            "zone_id": zone_row.id,
            "physical_network_id": guest_physical_network(conn, zone_row.id),
            "network_offering_id": required_isolated_offering(conn),
            "guest_type": "Isolated",
            "acl_type": "Account",
            "state": "Allocated",
            "cidr": str(cidr),
            "gateway": str(next(cidr.hosts())),
            "network_domain": isolated_network_domain(zone_row, int(account_row.id)),
            "dns1": getattr(zone_row, "dns1", None),
            "dns2": getattr(zone_row, "dns2", None),
            "account_id": account_row.id,
            "domain_id": account_row.domain_id,
            "is_default": True,
        },
    )


def vlan_numbers(ranges: str | None) -> list[tuple[int, int]]:
    """A physical network's ``vlan`` text (``"100-199,300"``) as (first, last) pairs; malformed parts are skipped."""
    pairs = []
    for part in (ranges or "").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            pairs.append((int(first), int(last or first)))
    return pairs


def allocate_guest_vlan(conn: Connection, network_row: Any) -> str | None:
    """The first VLAN of the network's physical network range no live network of the zone uses, as ``vlan://N``.

    The physical network row is locked (PostgreSQL; SQLite writers are serialised already), so two networks
    implemented at once never get the same VLAN. None when the physical network has no VLAN range or all of
    it is taken: the network then stays untagged, as a zone without guest VLANs has.
    """
    if network_row.physical_network_id is None:
        return None
    ranges = conn.execute(
        select(physical_network.c.vlan)
        .where(physical_network.c.id == network_row.physical_network_id)
        .with_for_update()
    ).scalar_one_or_none()
    taken = {
        tag.removeprefix("vlan://")
        for tag in conn.execute(
            select(guest_network.c.vlan).where(
                guest_network.c.zone_id == network_row.zone_id,
                guest_network.c.vlan.is_not(None),
                guest_network.c.removed.is_(None),
            )
        ).scalars()
    }
    for first, last in vlan_numbers(ranges):
        for number in range(first, last + 1):
            if str(number) not in taken:
                return f"vlan://{number}"
    return None


def implement_network(conn: Connection, network_id: int) -> None:
    """Move an Allocated network to Implemented (its first VM is starting); other states are left alone.

    An isolated network without a VLAN gets one from its physical network's range, as CloudStack's guest
    network guru does when it implements the network.
    """
    row = conn.execute(
        select(guest_network).where(guest_network.c.id == network_id, guest_network.c.state == "Allocated")
    ).first()
    if row is None:
        return
    values: dict[str, Any] = {"state": "Implemented"}
    if row.guest_type == "Isolated" and row.vlan is None:
        values["vlan"] = allocate_guest_vlan(conn, row)
    conn.execute(
        update(guest_network)
        .where(guest_network.c.id == network_id, guest_network.c.state == "Allocated")
        .values(**values)
    )
