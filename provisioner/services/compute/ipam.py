"""Guest IP address management: the first free address of a network's range, or the one requested.

Allocation first locks the network row (an ``UPDATE`` of its cursor, as CloudStack locks the network;
SQLite's write lock already serialises writers), so concurrent deployments in one network take turns
instead of all racing for the same "first free" address. Each address is an ``ip_address`` row whose
unique ``(network_id, number)`` index stays the final guard; the insert skips a conflict (``ON CONFLICT
DO NOTHING``), so a lost race costs one bounded retry, not the caller's transaction.

Finding the first free address costs the same in an empty network and in one of 12,000 addresses:
the network row carries a cursor, ``ip_free_from``, below which no address is free. Allocation
locks the row and moves the cursor past the address at it in one statement, then inserts that address
(the usual case: two round trips under the lock); only when it is taken (a requested address) are a
few index entries read from there on (the first gap is the answer). Every release lowers the cursor
to the freed address, so a freed address is the next one handed out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, delete, exists, func, insert, select, update

from provisioner.db.engine import insert_or_skip
from provisioner.db.schema import guest_network, ip_address
from provisioner.exceptions import InsufficientCapacityError, ParamError, ResourceAllocationError

#: Conflicts tolerated per allocation before giving up (each one means a concurrent winner).
MAX_ATTEMPTS = 16
#: Index entries read from the cursor in one statement; more only when that many in a row are taken.
WINDOW = 64
#: Lock the network row (held until the caller commits) and move its cursor past the address at it, which is
#: returned: the usual allocation is this and one INSERT, so the lock every deployment on the network waits for
#: is held for two round trips and the COMMIT.
_TAKE_CURSOR = (
    update(guest_network)
    .where(guest_network.c.id == bindparam("net"))
    .values(ip_free_from=func.coalesce(guest_network.c.ip_free_from, bindparam("first")) + 1)
    .returning(guest_network.c.ip_free_from)
)
_MOVE_CURSOR = update(guest_network).where(guest_network.c.id == bindparam("net")).values(ip_free_from=bindparam("at"))
#: A released address below the cursor is free again: the cursor goes back to it.
_LOWER_CURSOR = (
    update(guest_network)
    .where(guest_network.c.id == bindparam("net"))
    .values(
        ip_free_from=case(
            (guest_network.c.ip_free_from > bindparam("low"), bindparam("low")), else_=guest_network.c.ip_free_from
        )
    )
)


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


def first_free(conn: Connection, ip_range: IpRange, start: int | None = None) -> int | None:
    """The lowest unallocated address of the range at or above ``start`` (the network's cursor).

    Reads at most :data:`WINDOW` entries of the ``(network_id, number)`` index from ``start`` on; only when
    they are all taken in a row (a cursor never set, on a network filled before it existed) does one gap
    query finish the search.
    """
    nid = ip_range.network_id
    number = max(ip_range.first, start or ip_range.first)
    if number > ip_range.last:
        return None
    window = conn.execute(
        select(ip_address.c.number)
        .where(ip_address.c.network_id == nid, ip_address.c.number >= number, ip_address.c.number <= ip_range.last)
        .order_by(ip_address.c.number)
        .limit(WINDOW)
    ).scalars()
    seen = 0
    for taken in window:
        if taken != number:
            return number
        number, seen = number + 1, seen + 1
    if seen < WINDOW:
        return number if number <= ip_range.last else None
    # ``number - 1`` is taken: the first free one follows the lowest taken address whose successor is not.
    taken_a, after = ip_address.alias("taken"), ip_address.alias("after")
    candidate = conn.execute(
        select(func.min(taken_a.c.number + 1)).where(
            taken_a.c.network_id == nid,
            taken_a.c.number >= number - 1,
            taken_a.c.number < ip_range.last,
            ~exists().where(and_(after.c.network_id == nid, after.c.number == taken_a.c.number + 1)),
        )
    ).scalar_one_or_none()
    return int(candidate) if candidate is not None else None


def _insert(conn: Connection, ip_range: IpRange, number: int, vm_id: int | None) -> bool:
    """Insert the address; False when it is taken already (a concurrent winner), without failing the transaction."""
    values = {
        "network_id": ip_range.network_id,
        "address": str(ipaddress.ip_address(number)),
        "number": number,
        "state": "Allocated",
        "vm_id": vm_id,
    }
    inserted = conn.execute(insert_or_skip(ip_address).values(**values).returning(ip_address.c.id)).first()
    return inserted is not None


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
    # Taken last in a deployment (after host and pools), so the network row stays locked briefly.
    moved_to = conn.execute(_TAKE_CURSOR, {"net": ip_range.network_id, "first": ip_range.first}).scalar_one()
    number = max(int(moved_to) - 1, ip_range.first)
    if ip_range.contains(number) and _insert(conn, ip_range, number, vm_id):
        return str(ipaddress.ip_address(number))  # the usual case: the address at the cursor was free
    start = number + 1  # taken (a requested address): nothing below it is free either
    for _ in range(MAX_ATTEMPTS):
        number_or_none = first_free(conn, ip_range, start)
        if number_or_none is None:
            raise InsufficientCapacityError(
                f"No free IP address in network {ip_range.name} ({ip_range.cidr}): all {ip_range.size} addresses "
                f"of {ipaddress.ip_address(ip_range.first)}-{ipaddress.ip_address(ip_range.last)} are in use"
            )
        if _insert(conn, ip_range, number_or_none, vm_id):
            # Every address below the one just taken is taken too: the cursor moves past it.
            conn.execute(_MOVE_CURSOR, {"net": ip_range.network_id, "at": number_or_none + 1})
            return str(ipaddress.ip_address(number_or_none))
        start = number_or_none + 1  # a requested address took it meanwhile: nothing below is free either
    raise ResourceAllocationError(
        f"Could not allocate an IP address in network {ip_range.name}: {MAX_ATTEMPTS} concurrent conflicts"
    )


def release_ips(conn: Connection, *where: ColumnElement[bool]) -> int:
    """Free the addresses matching ``where`` and move their networks' cursors back to them; returns how many."""
    freed = conn.execute(delete(ip_address).where(*where).returning(ip_address.c.network_id, ip_address.c.number)).all()
    lowest: dict[int, int] = {}
    for network_id, number in freed:
        lowest[network_id] = min(number, lowest.get(network_id, number))
    for network_id, number in sorted(lowest.items()):  # in id order: two releases never wait on each other in turn
        conn.execute(_LOWER_CURSOR, {"net": network_id, "low": number})
    return len(freed)


def release_vm_ips(conn: Connection, vm_id: int) -> int:
    """Free every address a VM holds (expunge); returns how many."""
    return release_ips(conn, ip_address.c.vm_id == vm_id)


def create_guest_network(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a guest ``network`` row (cidr, gateway, range…), reserve its gateway, and return its id."""
    net = ipaddress.ip_network(values["cidr"], strict=False)
    values = {"netmask": str(net.netmask), **values, "cidr": str(net)}
    network_id = int(conn.execute(insert(guest_network).values(**values)).inserted_primary_key[0])  # type: ignore[index]
    reserve_gateway(conn, load_range(conn, network_id))
    return network_id
