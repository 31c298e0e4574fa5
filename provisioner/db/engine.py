"""Engines for the embedded SQLite default and for PostgreSQL, plus a retrying transaction helper."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import platformdirs
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Overrides the data directory (database, server key, admin credentials file).
DATA_DIR_ENV = "PROVISIONER_DATA_DIR"
#: SQLite waits this long for a lock before reporting "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: The execution option that marks a connection's transactions read-only (SQLite: a deferred ``BEGIN``).
READ_ONLY = "provisioner_read_only"
#: A pooled PostgreSQL connection idle longer than this (seconds) is pinged before use. A busy server hands its
#: connections back and forth within milliseconds and skips the round trip (it was one in seven statements of a
#: deployment); a quiet one still finds out that the database restarted before a request fails on it.
PING_AFTER_IDLE = 1.0
#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock detected.
_PG_RETRYABLE = {"40001", "40P01"}

#: One writer lock per SQLite database file, shared by every engine of this process on that file.
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
#: The writer lock each DBAPI connection holds now (by ``id``), with the set of the thread that took it (released
#: at the connection's COMMIT, ROLLBACK or close, whichever thread that runs in).
_HELD: dict[int, tuple[threading.Lock, set[threading.Lock]]] = {}
#: The writer locks the current thread holds (a second connection of the same thread does not wait for itself).
_THREAD = threading.local()


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


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: JSON columns (VM details, job results, ...) through orjson: psycopg decoded each with the standard library.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def create_engine_for(url: str | None = None, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine for ``url``, or for the embedded SQLite database when ``url`` is None.

    SQLite gets WAL, ``busy_timeout``, ``foreign_keys=ON`` and ``synchronous=NORMAL`` on every
    connection, and ``BEGIN IMMEDIATE`` transactions: a writer takes the lock up front, so two
    transactions never deadlock upgrading a read lock (SQLite would fail one at once, not wait).
    A transaction opened with :data:`READ_ONLY` set (``run_in_transaction(..., read_only=True)``) begins
    deferred instead: in WAL mode it reads its snapshot beside a writer rather than queueing behind it.

    PostgreSQL's pool hands out the most recently returned connection first (LIFO), so a quiet server
    keeps reusing one warm connection (its prepared statements, its catalog cache) and lets the rest idle.
    A connection is pinged only when it idled in the pool for :data:`PING_AFTER_IDLE` (not on every checkout).

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
        engine = create_engine(
            url, echo=echo, connect_args={"isolation_level": None, "check_same_thread": False}, **_JSON_CODEC
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        if parsed.database and parsed.database != ":memory:":
            _add_writer_lock(engine, str(Path(parsed.database).resolve()))
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's psycopg2 default
    engine = create_engine(
        parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_use_lifo=True, **_JSON_CODEC
    )
    event.listen(engine, "checkin", _pg_on_checkin)
    event.listen(engine, "checkout", partial(_pg_on_checkout, engine))
    return engine


def _pg_on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _pg_on_checkout(engine: Engine, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Ping a connection that sat in the pool longer than :data:`PING_AFTER_IDLE` (a fresh one is not pinged).

    Raises:
        InvalidatePoolError: the ping failed; the pool drops every connection it holds and hands out a new one.
    """
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)
    except engine.dialect.loaded_dbapi.Error as exc:
        raise InvalidatePoolError(f"PostgreSQL connection idle since {since:.0f} failed its ping: {exc}") from exc


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
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    if read_only:
        connection.exec_driver_sql("BEGIN")
        return
    lock: threading.Lock | None = connection.engine.dialect.__dict__.get("_provisioner_write_lock")
    held = getattr(_THREAD, "held", None)
    if held is None:
        held = _THREAD.held = set()
    # Writers of this process queue on the lock and get it the moment the previous one commits; SQLite's busy
    # handler (still there for other processes) sleeps with a backoff instead, and ~10 writes per deploy queued
    # on it. Bounded: past the busy timeout the transaction goes on and SQLite's own wait decides, as before.
    acquired = False
    dbapi_connection = connection.connection.dbapi_connection
    if lock is not None and lock not in held and lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        acquired = True
        _HELD[id(dbapi_connection)] = (lock, held)
        held.add(lock)
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if acquired:
            _release(dbapi_connection)
        raise


def _release(dbapi_connection: Any) -> None:
    """Release the writer lock ``dbapi_connection`` (or the pool's proxy of it) holds, if any."""
    raw = getattr(dbapi_connection, "dbapi_connection", None) or dbapi_connection
    taken = _HELD.pop(id(raw), None)
    if taken is not None:
        lock, held = taken
        held.discard(lock)
        lock.release()


def _add_writer_lock(engine: Engine, path: str) -> None:
    """Serialize this process's SQLite write transactions on ``path`` with a lock released right after COMMIT."""
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(path, threading.Lock())
    dialect = engine.dialect
    dialect.__dict__["_provisioner_write_lock"] = lock

    def wrap(name: str) -> None:
        ending = getattr(dialect, name)

        def ended(dbapi_connection: Any, *args: Any, **kwargs: Any) -> None:
            try:
                ending(dbapi_connection, *args, **kwargs)
            finally:
                _release(dbapi_connection)

        setattr(dialect, name, ended)

    for name in ("do_commit", "do_rollback", "do_close"):
        wrap(name)
    # A connection invalidated or closed by the pool mid-transaction gives its lock back too.
    event.listen(engine, "invalidate", lambda dbapi_connection, *_: _release(dbapi_connection))
    event.listen(engine, "close", lambda dbapi_connection, *_: _release(dbapi_connection))


class _OnConflictDoNothing(postgresql.dml.OnConflictDoNothing):
    """``ON CONFLICT DO NOTHING`` without a target, as a clause SQLAlchemy caches (PostgreSQL and SQLite alike).

    The dialects' own INSERT constructs are never cached (``inherit_cache = False`` in SQLAlchemy 2.0): every
    execution compiled its statement again, about a millisecond for each NIC and address of a deployment.
    """

    inherit_cache = True
    _traverse_internals: list[Any] = []  # no target, nothing that varies


_DO_NOTHING = _OnConflictDoNothing()


def insert_or_skip(table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` on ``table``.

    A row that would break a unique index is skipped instead of failing, so the caller's transaction stays usable
    without a savepoint around the insert: one statement instead of three on a hot path. Tell the two apart with
    ``.returning(…)`` (no row: skipped), not ``rowcount``, which PostgreSQL reports as -1 here. On PostgreSQL a
    conflicting row still being inserted by another transaction is waited for first.
    """
    statement = insert(table)
    # The clause the compilers render after VALUES (what the dialects' on_conflict_do_nothing() sets).
    statement._post_values_clause = _DO_NOTHING
    return statement


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
    read_only: bool = False,
) -> T:
    """Run ``work`` in a transaction, retrying it on busy/serialization errors.

    Args:
        engine: the engine to connect with.
        work: called with a connection inside ``BEGIN``; must be safe to run again.
        attempts: the most times ``work`` runs.
        max_seconds: no new attempt starts after this long.
        read_only: ``work`` only reads. On SQLite the transaction then begins deferred, so it does not wait
            for (or hold up) writers; should it write after all, SQLite may refuse the upgrade with "database
            is locked" and the attempt is retried like any busy one. No effect on PostgreSQL.

    Returns:
        What ``work`` returned on the attempt that committed.
    """
    deadline = time.monotonic() + max_seconds
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect() as conn:
                if read_only:
                    conn.execution_options(**{READ_ONLY: True})
                with conn.begin():
                    return work(conn)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts or time.monotonic() >= deadline:
                raise
            # Jittered backoff so two contenders do not collide again in lockstep.
            delay = min(0.05 * 2**attempt, 1.0) * (0.5 + random.random())
            log.debug("transaction retry %d after %s", attempt, type(exc.orig).__name__)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
