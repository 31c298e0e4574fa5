"""Guest IP address management: the first free address of a network's range, or the one requested.

Allocation first locks the network row (``SELECT … FOR UPDATE`` on PostgreSQL, as CloudStack
locks the network; SQLite's write lock already serialises writers), so concurrent deployments
in one network take turns instead of all racing for the same "first free" address. Each address
is an ``ip_address`` row whose unique ``(network_id, number)`` index stays the final guard; the
insert runs in a savepoint, so a conflict costs one bounded retry, not the caller's transaction.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, select
from sqlalchemy.exc import IntegrityError

from provisioner.db.schema import guest_network, ip_address
from provisioner.exceptions import InsufficientCapacityError, ParamError, ResourceAllocationError

#: Conflicts tolerated per allocation before giving up (each one means a concurrent winner).
MAX_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class IpRange:
    """The addresses a network hands out, as integers, and what a NIC needs to know besides."""

    network_id: int
    name: str
    cidr: str
    first: int
    last: int
    gateway: str | None
    netmask: str

    @property
    def size(self) -> int:
        """How many addresses the range spans (the gateway included when inside it)."""
        return self.last - self.first + 1

    def contains(self, number: int) -> bool:
        """Whether ``number`` lies in the range."""
        return self.first <= number <= self.last


def range_of(row: Any) -> IpRange:
    """The range of a ``network`` row: ``start_ip`` to ``end_ip``, else the CIDR's hosts."""
    if not row.cidr:
        raise ParamError(f"Network {row.name} has no CIDR; it cannot hand out IP addresses")
    net = ipaddress.ip_network(row.cidr, strict=False)
    hosts_first = int(net.network_address) + (1 if net.num_addresses > 2 else 0)
    hosts_last = int(net.broadcast_address) - (1 if net.num_addresses > 2 else 0)
    first = int(ipaddress.ip_address(row.start_ip)) if row.start_ip else hosts_first
    last = int(ipaddress.ip_address(row.end_ip)) if row.end_ip else hosts_last
    return IpRange(row.id, row.name, str(net), first, last, row.gateway, str(net.netmask))


def load_range(conn: Connection, network_id: int) -> IpRange:
    """The range of a live network.

    Raises:
        ParamError: no such network (431).
    """
    row = conn.execute(
        select(guest_network).where(guest_network.c.id == network_id, guest_network.c.removed.is_(None))
    ).first()
    if row is None:
        raise ParamError(f"Unable to find network by id {network_id}")
    return range_of(row)


def reserve_gateway(conn: Connection, ip_range: IpRange) -> None:
    """Mark the gateway as taken when it lies inside the range (call once, when the network is created)."""
    if ip_range.gateway is None:
        return
    number = int(ipaddress.ip_address(ip_range.gateway))
    if ip_range.contains(number):
        conn.execute(
            insert(ip_address).values(
                network_id=ip_range.network_id, address=ip_range.gateway, number=number, state="Reserved"
            )
        )


def first_free(conn: Connection, ip_range: IpRange) -> int | None:
    """The lowest unallocated address of the range, found by a gap query on the unique index."""
    taken = ip_address.alias("taken")
    nid = ip_range.network_id
    first_taken = conn.execute(
        select(exists().where(taken.c.network_id == nid, taken.c.number == ip_range.first))
    ).scalar_one()
    if not first_taken:
        return ip_range.first
    # Without a gap (the usual case: addresses handed out in order, none released) the first free one
    # follows the highest; two index-only aggregates say so without the gap query's anti-join per address.
    highest, count = conn.execute(
        select(func.max(taken.c.number), func.count()).where(
            taken.c.network_id == nid, taken.c.number >= ip_range.first, taken.c.number <= ip_range.last
        )
    ).one()
    if highest is not None and int(highest) - ip_range.first + 1 == int(count):
        return int(highest) + 1 if int(highest) < ip_range.last else None
    after = ip_address.alias("after")
    candidate = conn.execute(
        select(func.min(taken.c.number + 1)).where(
            taken.c.network_id == nid,
            taken.c.number >= ip_range.first,
            taken.c.number < ip_range.last,
            ~exists().where(and_(after.c.network_id == nid, after.c.number == taken.c.number + 1)),
        )
    ).scalar_one_or_none()
    return int(candidate) if candidate is not None else None


def _insert(conn: Connection, ip_range: IpRange, number: int, vm_id: int | None) -> bool:
    savepoint = conn.begin_nested()
    try:
        conn.execute(
            insert(ip_address).values(
                network_id=ip_range.network_id,
                address=str(ipaddress.ip_address(number)),
                number=number,
                state="Allocated",
                vm_id=vm_id,
            )
        )
    except IntegrityError:
        savepoint.rollback()
        taken = select(exists().where(ip_address.c.network_id == ip_range.network_id, ip_address.c.number == number))
        if not conn.execute(taken).scalar_one():
            raise  # another constraint failed: not a lost race
        return False
    savepoint.commit()
    return True


def allocate_ip(conn: Connection, ip_range: IpRange, *, vm_id: int | None = None, requested: str | None = None) -> str:
    """Allocate an address in ``ip_range`` for ``vm_id`` inside the caller's transaction.

    Args:
        conn: a connection inside a transaction.
        ip_range: the network's range (:func:`load_range`).
        vm_id: the VM the address goes to.
        requested: a specific address (deploy ``ipaddress=``); else the first free one.

    Returns:
        The address, as text.

    Raises:
        ParamError: the requested address is invalid, outside the range, or taken (431).
        InsufficientCapacityError: every address of the range is taken (533).
        ResourceAllocationError: lost :data:`MAX_ATTEMPTS` races in a row (535).
    """
    if requested is not None:
        try:
            number = int(ipaddress.ip_address(requested))
        except ValueError:
            raise ParamError(f"Invalid IP address {requested!r}") from None
        if not ip_range.contains(number):
            raise ParamError(
                f"IP address {requested} is not in the range of network {ip_range.name} "
                f"({ipaddress.ip_address(ip_range.first)}-{ipaddress.ip_address(ip_range.last)})"
            )
        if not _insert(conn, ip_range, number, vm_id):
            raise ParamError(f"IP address {requested} is already in use in network {ip_range.name}")
        return str(ipaddress.ip_address(number))
    # Held until the caller commits; taken late in a deployment (after host and pools) to keep it short.
    conn.execute(select(guest_network.c.id).where(guest_network.c.id == ip_range.network_id).with_for_update())
    for _ in range(MAX_ATTEMPTS):
        number_or_none = first_free(conn, ip_range)
        if number_or_none is None:
            raise InsufficientCapacityError(
                f"No free IP address in network {ip_range.name} ({ip_range.cidr}): all {ip_range.size} addresses "
                f"of {ipaddress.ip_address(ip_range.first)}-{ipaddress.ip_address(ip_range.last)} are in use"
            )
        if _insert(conn, ip_range, number_or_none, vm_id):
            return str(ipaddress.ip_address(number_or_none))
    raise ResourceAllocationError(
        f"Could not allocate an IP address in network {ip_range.name}: {MAX_ATTEMPTS} concurrent conflicts"
    )


def release_vm_ips(conn: Connection, vm_id: int) -> int:
    """Free every address a VM holds (expunge); returns how many."""
    return int(conn.execute(delete(ip_address).where(ip_address.c.vm_id == vm_id)).rowcount)


def create_guest_network(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a guest ``network`` row (cidr, gateway, range…), reserve its gateway, and return its id."""
    net = ipaddress.ip_network(values["cidr"], strict=False)
    values = {"netmask": str(net.netmask), **values, "cidr": str(net)}
    network_id = int(conn.execute(insert(guest_network).values(**values)).inserted_primary_key[0])  # type: ignore[index]
    reserve_gateway(conn, load_range(conn, network_id))
    return network_id
