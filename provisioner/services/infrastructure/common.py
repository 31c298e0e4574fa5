"""What every infrastructure module shares: the admin check, id lookups, value formatting, tag rows."""

from __future__ import annotations

import ipaddress
import time
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Table,
    delete,
    insert,
    select,
    update,
)

from provisioner.api.params import unknown_id
from provisioner.db.schema import utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import contains
from provisioner.services.principal import Caller

#: Wire row: CloudStack response field name to value.
Row = dict[str, Any]


def require_root(caller: Caller, command: str) -> None:
    """Infrastructure is root-admin only (``authorized = {RoleType.Admin}``).

    Raises:
        PermissionDeniedError: the caller is not a root admin (531).
    """
    if not caller.is_root_admin:
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to perform {command}: root admin only"
        )


def live(table: Table) -> ColumnElement[bool]:
    """Rows not soft-deleted."""
    return table.c.removed.is_(None)


def get_live(conn: Connection, table: Table, uuid: str, param: str = "id") -> RowMapping:
    """The live row with public id ``uuid``.

    Raises:
        ParamError: no such row; CloudStack's verbatim unknown-id text naming ``param`` (431).
    """
    query = select(table).where(table.c.uuid == uuid.lower())
    if "removed" in table.c:
        query = query.where(live(table))
    row = conn.execute(query).mappings().first()
    if row is None:
        raise unknown_id(param, uuid)
    return row


def soft_delete(conn: Connection, table: Table, row_id: int) -> None:
    """Hide a row as CloudStack does: set ``removed``, keep the row."""
    conn.execute(update(table).where(table.c.id == row_id).values(removed=utcnow()))


def common_filters(
    table: Table,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    name_column: Any = None,
) -> list[ColumnElement[bool]]:
    """Conditions for the filters every list command takes (``id``, ``ids``, exact ``name``, ``keyword``)."""
    column = name_column if name_column is not None else table.c.name
    conditions: list[ColumnElement[bool]] = []
    if "removed" in table.c:
        conditions.append(live(table))
    if id is not None:
        conditions.append(table.c.uuid == id.lower())
    if ids:
        conditions.append(table.c.uuid.in_([item.lower() for item in ids]))
    if name is not None:
        conditions.append(column == name)
    if keyword:
        conditions.append(contains(column, keyword))
    return conditions


def exists(conn: Connection, table: Table, *conditions: ColumnElement[bool]) -> bool:
    """Whether any live row matches."""
    query = select(table.c.id).where(*conditions).limit(1)
    if "removed" in table.c:
        query = query.where(live(table))
    return conn.execute(query).first() is not None


def decimal_text(value: float) -> str:
    """A number as CloudStack's ``DecimalFormat("#.##")`` prints it: ``"12.5"``, ``"32000"``, ``"0"``.

    ``round`` rounds half to even, as ``DecimalFormat`` does; this runs for every listed host, so no Decimal.
    """
    if float(value).is_integer():  # the usual case (totals, zero allocations): skip rounding
        return str(int(value))
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def percent(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole`` in ``DecimalFormat("#.##")``; ``"0"`` when ``whole`` is 0."""
    return decimal_text(part * 100 / whole) if whole and part else "0"


def ratio_text(value: float) -> str:
    """An over-commit ratio as CloudStack prints it (``"1.0"``, ``"2.5"``)."""
    return repr(float(value))


def split_csv(value: str | Sequence[str] | None) -> list[str]:
    """Comma-separated text or a list, as a list of non-empty stripped items."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def join_csv(items: Sequence[str]) -> str | None:
    """The display form of a tag list; None when empty."""
    return ",".join(items) if items else None


def replace_tags(conn: Connection, owner: Table, owner_id: int, link_column: Column[Any], tags: Sequence[str]) -> None:
    """Replace the tags of one host, pool...: its rows in the tag link table and its ``tags`` display copy.

    Args:
        conn: the connection.
        owner: the tagged table (it has a ``tags`` column).
        owner_id: the tagged row's internal id.
        link_column: the link table's column naming the owner (``host_tag.c.host_id``); the table has ``tag``.
        tags: the new tags; repeats are dropped, the first order kept.
    """
    unique = list(dict.fromkeys(tags))
    link = link_column.table
    conn.execute(delete(link).where(link_column == owner_id))
    if unique:
        conn.execute(insert(link), [{link_column.name: owner_id, "tag": tag} for tag in unique])
    conn.execute(update(owner).where(owner.c.id == owner_id).values(tags=join_csv(unique)))


def ip_address(value: str, param: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP address parameter.

    Raises:
        ParamError: not an address (431).
    """
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ParamError(f"Please specify a valid IP address for {param}: {value}") from None


def ip_network(gateway: str, netmask: str) -> ipaddress.IPv4Network:
    """The network a gateway and netmask describe.

    Raises:
        ParamError: either is not a valid IPv4 value (431).
    """
    ip_address(gateway, "gateway")
    try:
        return ipaddress.IPv4Network(f"{gateway.strip()}/{netmask.strip()}", strict=False)
    except ValueError:
        raise ParamError(f"Please specify a valid netmask: {netmask}") from None


#: What simulated storage reports (CloudStack's ``MockStorageManagerImpl``: 1 TiB pools and stores).
SIMULATED_CAPACITY = 1 << 40


#: Seconds a zone's answer to :func:`is_simulated_zone` is reused (a deployment asks it three times).
SIMULATED_ZONE_TTL = 5.0
#: Per database (engine) and zone id: the answer and when it was read.
_simulated_zones: weakref.WeakKeyDictionary[Engine, dict[int, tuple[bool, float]]] = weakref.WeakKeyDictionary()


def is_simulated_zone(conn: Connection, zone_id: int) -> bool:
    """A zone whose clusters are all ``Simulator`` ones: its storage is accepted without being contacted.

    The answer is kept :data:`SIMULATED_ZONE_TTL` seconds, except for a zone without clusters yet (its first
    cluster decides); adding or changing a cluster in this process forgets it at once
    (:func:`forget_zone_kind`).
    """
    from provisioner.db.schema import cluster

    zones = _simulated_zones.setdefault(conn.engine, {})
    known = zones.get(zone_id)
    if known is not None and time.monotonic() - known[1] < SIMULATED_ZONE_TTL:
        return known[0]
    kinds = set(
        conn.execute(
            select(cluster.c.hypervisor_type).where(cluster.c.zone_id == zone_id, live(cluster)).distinct()
        ).scalars()
    )
    if kinds:
        zones[zone_id] = (kinds == {"Simulator"}, time.monotonic())
    return kinds == {"Simulator"}


def forget_zone_kind(conn: Connection, zone_id: int) -> None:
    """Drop the zone's remembered :func:`is_simulated_zone` answer (its clusters changed)."""
    _simulated_zones.get(conn.engine, {}).pop(zone_id, None)
