"""Engines for the embedded SQLite default and for PostgreSQL, plus a retrying transaction helper."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Overrides the data directory (database, server key, admin credentials file).
DATA_DIR_ENV = "PROVISIONER_DATA_DIR"
#: SQLite waits this long for a lock before reporting "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock detected.
_PG_RETRYABLE = {"40001", "40P01"}


def data_dir() -> Path:
    """The directory holding the embedded database and the files created beside it."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir("provisioner"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def default_url() -> str:
    """The URL of the embedded SQLite database in :func:`data_dir`."""
    return f"sqlite:///{data_dir() / 'provisioner.db'}"


def files_dir(url: str | URL) -> Path:
    """Where files belonging to a database live: beside a SQLite file, else the data directory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).resolve().parent
    return data_dir()


def is_sqlite(bind: Engine | Connection) -> bool:
    """True when the engine or connection talks to SQLite."""
    return bind.dialect.name == "sqlite"


def create_engine_for(url: str | None = None, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine for ``url``, or for the embedded SQLite database when ``url`` is None.

    SQLite gets WAL, ``busy_timeout``, ``foreign_keys=ON`` and ``synchronous=NORMAL`` on every
    connection, and ``BEGIN IMMEDIATE`` transactions: a writer takes the lock up front, so two
    transactions never deadlock upgrading a read lock (SQLite would fail one at once, not wait).

    Args:
        url: an SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://…``) or None.
        pool_size: PostgreSQL connection pool size (size it for API threads plus job workers).
        echo: log every SQL statement (debugging only).

    Returns:
        The engine; the caller disposes of it.
    """
    url = url or default_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"isolation_level": None, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's psycopg2 default
    return create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_retryable(exc: BaseException) -> bool:
    """True for errors a transaction may retry: SQLite busy/locked, PostgreSQL serialization/deadlock."""
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.OperationalError):
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in _PG_RETRYABLE
    return False


def run_in_transaction(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    attempts: int = 5,
    max_seconds: float = 30.0,
) -> T:
    """Run ``work`` in a transaction, retrying it on busy/serialization errors.

    Args:
        engine: the engine to connect with.
        work: called with a connection inside ``BEGIN``; must be safe to run again.
        attempts: the most times ``work`` runs.
        max_seconds: no new attempt starts after this long.

    Returns:
        What ``work`` returned on the attempt that committed.
    """
    deadline = time.monotonic() + max_seconds
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts or time.monotonic() >= deadline:
                raise
            # Jittered backoff so two contenders do not collide again in lockstep.
            delay = min(0.05 * 2**attempt, 1.0) * (0.5 + random.random())
            log.debug("transaction retry %d after %s", attempt, type(exc.orig).__name__)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
