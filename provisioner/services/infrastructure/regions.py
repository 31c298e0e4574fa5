"""Regions (``listRegions``, ``addRegion``, ``updateRegion``, ``removeRegion``); integer ids, 1 = local."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from provisioner.db.schema import region
from provisioner.exceptions import ParamError
from provisioner.services.common import contains, list_page
from provisioner.services.infrastructure.common import Row, require_root
from provisioner.services.principal import Caller

LOCAL_REGION_ID = 1


def region_row(m: RowMapping) -> Row:
    """A region as ``RegionResponse`` (``id`` is a JSON number)."""
    return {
        "id": m["id"],
        "name": m["name"],
        "endpoint": m["endpoint"],
        "gslbserviceenabled": bool(m["gslb_service_enabled"]),
        "portableipserviceenabled": bool(m["portableip_service_enabled"]),
    }


def _get(conn: Connection, region_id: int) -> RowMapping:
    row = conn.execute(select(region).where(region.c.id == region_id)).mappings().first()
    if row is None:
        raise ParamError(f"Region with id {region_id} does not exist")
    return row


def list_regions(
    conn: Connection,
    caller: Caller,
    *,
    id: int | None = None,
    name: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List regions; every caller may."""
    query = select(region)
    if id is not None:
        query = query.where(region.c.id == id)
    if name is not None:
        query = query.where(region.c.name == name)
    if keyword:
        query = query.where(contains(region.c.name, keyword))
    rows, total = list_page(conn, query, [region.c.id], page, pagesize)
    return [region_row(m) for m in rows], total


def add_region(conn: Connection, caller: Caller, *, id: int, name: str, endpoint: str) -> Row:
    """Register a peer region (``addRegion``).

    Raises:
        ParamError: the id or name is taken (431).
    """
    require_root(caller, "addRegion")
    if conn.execute(select(region.c.id).where((region.c.id == id) | (region.c.name == name))).first():
        raise ParamError(f"Region with id {id} or name {name} already exists")
    conn.execute(insert(region).values(id=id, name=name, endpoint=endpoint))
    return region_row(_get(conn, id))


def update_region(
    conn: Connection,
    caller: Caller,
    *,
    id: int,
    name: str | None = None,
    endpoint: str | None = None,
) -> Row:
    """Rename a region or change its endpoint (``updateRegion``)."""
    require_root(caller, "updateRegion")
    _get(conn, id)
    values = {key: value for key, value in (("name", name), ("endpoint", endpoint)) if value}
    if values:
        conn.execute(update(region).where(region.c.id == id).values(**values))
    return region_row(_get(conn, id))


def remove_region(conn: Connection, caller: Caller, *, id: int) -> None:
    """Forget a peer region (``removeRegion``); the local region stays."""
    require_root(caller, "removeRegion")
    _get(conn, id)
    if id == LOCAL_REGION_ID:
        raise ParamError("The local region cannot be removed")
    conn.execute(delete(region).where(region.c.id == id))
