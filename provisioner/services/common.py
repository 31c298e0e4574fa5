"""Query helpers every service shares: paging, LIKE escaping, counting, id lookups."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Row, RowMapping, Select, Table, bindparam, func, select

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


class PendingCount:
    """The answer of a COUNT sent ahead: :attr:`value` is set when its :func:`count_meanwhile` block ends."""

    value: int = 0


@contextmanager
def count_meanwhile(conn: Connection, counting: Select[Any]) -> Iterator[PendingCount]:
    """Run the one-column COUNT ``counting`` while the block does Python work; its answer is ready after the block.

    On PostgreSQL the statement is sent at once in pipeline mode, in the caller's transaction, and read when the
    block ends, so the database counts while this process builds rows; the block must run no statement on
    ``conn``. Elsewhere it simply runs first.
    """
    pending = PendingCount()
    if conn.dialect.name != "postgresql":
        pending.value = int(conn.execute(counting).scalar_one())
        yield pending
        return
    compiled = counting.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    driver = conn.connection.driver_connection
    assert driver is not None  # a live connection inside a transaction
    with driver.pipeline(), driver.cursor() as cursor:
        cursor.execute(str(compiled), compiled.params)
        yield pending
        counted = cursor.fetchone()
    pending.value = int(counted[0]) if counted else 0


def row_by_uuid(conn: Connection, table: Table, uuid: str, what: str) -> Row[Any]:
    """The live (not removed) row with public id ``uuid``.

    Raises:
        ParamError: no such row (431, CloudStack's "Unable to find ..." wording).
    """
    row = conn.execute(_row_by_uuid(table), {"uuid": uuid.lower()}).first()
    if row is None:
        raise ParamError(f"Unable to find {what} by id {uuid}")
    return row


def live_uuids(conn: Connection, table: Table, ids: Sequence[str]) -> set[str]:
    """The UUIDs among ``ids`` naming live (not removed) rows of ``table``, in one indexed ``IN`` query."""
    return set(conn.execute(_live_uuids(table), {"uuids": [item.lower() for item in ids]}).scalars())


# Built once per table: every API request runs these, and building a statement (and its cache key) costs
# more than running it.
@functools.cache
def _row_by_uuid(table: Table) -> Select[Any]:
    query = select(table).where(table.c.uuid == bindparam("uuid"))
    return query.where(table.c.removed.is_(None)) if "removed" in table.c else query


@functools.cache
def _live_uuids(table: Table) -> Select[Any]:
    query = select(table.c.uuid).where(table.c.uuid.in_(bindparam("uuids", expanding=True)))
    return query.where(table.c.removed.is_(None)) if "removed" in table.c else query


def contains(column: Any, keyword: str) -> ColumnElement[bool]:
    """Case-insensitive ``column LIKE '%keyword%'`` (as MySQL's collation makes it in CloudStack);
    LIKE wildcards in ``keyword`` are taken literally."""
    condition: ColumnElement[bool] = column.ilike("%" + like_prefix(keyword), escape="\\")
    return condition


def list_page(
    conn: Connection,
    query: Select[Any],
    order_by: Sequence[Any],
    page: int | None,
    pagesize: int | None,
    *,
    keys: Select[Any] | None = None,
) -> tuple[list[RowMapping], int]:
    """One page of ``query`` and the total row count, in at most two statements.

    The COUNT is skipped when the page itself proves the total (a first page shorter than its size).

    Args:
        conn: the connection.
        query: the listing, with its display columns, joins and filters.
        order_by: the page order; it must end with a unique column so pages never overlap.
        page: 1-based page number, or None.
        pagesize: rows per page, or None.
        keys: for wide listings, ``select(table.c.id).where(<the same filters>)`` over the listed table
            alone. The page's ids are then picked by this index-friendly query (inside the page
            statement) and only those rows are joined and decorated, so neither a deep ``OFFSET``
            nor the COUNT pays for joins and display columns.
    """
    paged = page is not None or pagesize is not None
    if keys is not None and paged:
        # Joined as a derived table, not ``id IN (...)``: PostgreSQL then fetches the page's rows by primary
        # key instead of hashing a scan of the whole table against the page's ids.
        chosen = paginate(keys.order_by(*order_by), page, pagesize).subquery("page")
        statement = query.join(chosen, order_by[-1] == chosen.c[0]).order_by(*order_by)
    else:
        statement = paginate(query.order_by(*order_by), page, pagesize)
    rows = list(conn.execute(statement).mappings())
    if not paged or ((page or 1) == 1 and len(rows) < (pagesize or DEFAULT_PAGE_SIZE)):
        return rows, len(rows)
    # Count over the filters only: display columns (names, scoped factors) would otherwise be computed
    # for every matching row just to be thrown away.
    counted = keys if keys is not None else query
    counting = counted.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    return rows, int(conn.execute(counting).scalar_one())
