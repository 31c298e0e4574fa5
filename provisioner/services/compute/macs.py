"""Guest MAC addresses: ``02:00:xx:xx:xx:xx`` (locally administered, unicast), unique among live NICs.

Random rather than a counter row: a counter would be one row every deployment writes and locks
until it commits. Uniqueness comes from the partial unique index on ``nic.mac_address``; the insert
skips a conflict (``ON CONFLICT DO NOTHING``), so a collision (one in 2**32 per pair) costs a retry
and the usual case one statement.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, exists, insert, select, update

from provisioner.db.engine import insert_or_skip
from provisioner.db.schema import nic, utcnow
from provisioner.exceptions import ResourceAllocationError

#: CloudStack's guest prefix: ``02`` marks a locally administered unicast address.
PREFIX = "02:00"
MAX_ATTEMPTS = 8

MacSource = Callable[[], str]


def random_mac(rng: random.Random | None = None) -> str:
    """A fresh ``02:00:xx:xx:xx:xx`` address (``rng`` only for reproducible tests)."""
    value = rng.getrandbits(32) if rng is not None else secrets.randbits(32)
    return PREFIX + "".join(f":{(value >> shift) & 0xFF:02x}" for shift in (24, 16, 8, 0))


def mac_in_use(conn: Connection, mac: str) -> bool:
    """Whether a live NIC already has ``mac``."""
    return bool(conn.execute(select(exists().where(nic.c.mac_address == mac, nic.c.removed.is_(None)))).scalar_one())


def insert_nic(conn: Connection, values: dict[str, Any], *, source: MacSource | None = None) -> tuple[int, str]:
    """Insert a NIC row with a unique MAC inside the caller's transaction.

    Args:
        conn: a connection inside a transaction.
        values: the ``nic`` columns except ``mac_address``.
        source: where MACs come from (default :func:`random_mac`); tests inject collisions.

    Returns:
        The NIC's id and its MAC.

    Raises:
        ResourceAllocationError: :data:`MAX_ATTEMPTS` MACs in a row were taken (535).
    """
    draw = source or random_mac
    for _ in range(MAX_ATTEMPTS):
        mac = draw()
        row = conn.execute(insert_or_skip(nic).values(**values, mac_address=mac).returning(nic.c.id)).first()
        if row is not None:
            return int(row.id), mac
        if not mac_in_use(conn, mac):
            # Another unique index refused the row, not the MAC: insert it plainly, so the error names that index.
            result = conn.execute(insert(nic).values(**values, mac_address=mac))
            return int(result.inserted_primary_key[0]), mac  # type: ignore[index]
        # A live NIC (perhaps a concurrent one) has this MAC: draw another.
    raise ResourceAllocationError(f"Could not allocate a unique MAC address after {MAX_ATTEMPTS} attempts")


def release_vm_nics(conn: Connection, vm_id: int) -> int:
    """Retire a VM's NICs (expunge): they keep their row but free their MAC; returns how many."""
    return int(
        conn.execute(
            update(nic).where(nic.c.vm_id == vm_id, nic.c.removed.is_(None)).values(removed=utcnow(), state="Released")
        ).rowcount
    )
