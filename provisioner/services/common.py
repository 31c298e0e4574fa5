"""Query helpers every service shares: paging, LIKE escaping, counting, id lookups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Row, Select, Table, func, select

from provisioner.exceptions import ParamError

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 10_000


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with ``prefix`` (escape character ``\\``)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def starts_with(column: Column[str] | ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column LIKE 'prefix%'``: index-friendly (text_pattern_ops on PostgreSQL)."""
    return column.like(like_prefix(prefix), escape="\\")


def paginate(query: Select[Any], page: int | None, pagesize: int | None) -> Select[Any]:
    """Apply CloudStack ``page``/``pagesize`` (1-based pages) in SQL."""
    if page is None and pagesize is None:
        return query
    size = pagesize or DEFAULT_PAGE_SIZE
    if size < 1 or size > MAX_PAGE_SIZE:
        raise ParamError(f"Page size can't exceed max allowed page size value: {MAX_PAGE_SIZE}")
    number = page or 1
    if number < 1:
        raise ParamError("Page number must be greater than 0")
    return query.limit(size).offset((number - 1) * size)


def count_of(conn: Connection, query: Select[Any]) -> int:
    """Rows ``query`` would return, in one COUNT statement."""
    return int(conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one())


def row_by_uuid(conn: Connection, table: Table, uuid: str, what: str) -> Row[Any]:
    """The live (not removed) row with public id ``uuid``.

    Raises:
        ParamError: no such row (431, CloudStack's "Unable to find ..." wording).
    """
    query = select(table).where(table.c.uuid == uuid.lower())
    if "removed" in table.c:
        query = query.where(table.c.removed.is_(None))
    row = conn.execute(query).first()
    if row is None:
        raise ParamError(f"Unable to find {what} by id {uuid}")
    return row


def live_uuids(conn: Connection, table: Table, ids: Sequence[str]) -> set[str]:
    """The UUIDs among ``ids`` naming live (not removed) rows of ``table``, in one indexed ``IN`` query."""
    query = select(table.c.uuid).where(table.c.uuid.in_([item.lower() for item in ids]))
    if "removed" in table.c:
        query = query.where(table.c.removed.is_(None))
    return set(conn.execute(query).scalars())
