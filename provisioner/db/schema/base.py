"""The one ``MetaData`` every table joins, and the columns most tables share."""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, text

#: Constraint names are deterministic, so migrations can drop or alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Integer key type: BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY is a rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now in UTC, naive: every timestamp column stores naive UTC on both databases."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_uuid() -> str:
    """A fresh lower-case UUID string, the id clients see."""
    return str(uuidlib.uuid4())


def id_column() -> Column[int]:
    """The internal integer primary key."""
    return Column("id", BigId, primary_key=True, autoincrement=True)


def uuid_column() -> Column[str]:
    """The public id: a unique lower-case UUID string."""
    return Column("uuid", String(36), nullable=False, unique=True, default=new_uuid)


def created_column() -> Column[datetime]:
    """When the row was created (naive UTC)."""
    return Column("created", DateTime(), nullable=False, default=utcnow)


def removed_column() -> Column[datetime]:
    """Soft-delete marker: set when CloudStack would keep the row but hide it."""
    return Column("removed", DateTime(), nullable=True)


def live_only() -> dict[str, Any]:
    """Partial-index options (both dialects): the index covers rows not soft-deleted, so a removed row
    frees its unique name (an index's ``**live_only()``)."""
    condition = text("removed IS NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}
