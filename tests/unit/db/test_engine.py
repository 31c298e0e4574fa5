"""Engine settings for SQLite, the default location, and the retrying transaction helper."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from provisioner.db import engine as db_engine
from provisioner.db.engine import create_engine_for, files_dir, is_retryable, run_in_transaction


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == db_engine.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_default_url_is_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db_engine.DATA_DIR_ENV, str(tmp_path / "data"))
    assert db_engine.default_url() == f"sqlite:///{tmp_path / 'data' / 'provisioner.db'}"
    assert files_dir(db_engine.default_url()) == tmp_path / "data"
    assert files_dir("postgresql+psycopg://u@/db?host=/tmp") == tmp_path / "data"


def _busy() -> OperationalError:
    return OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))


def test_retry_on_busy_then_success(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    calls: list[int] = []

    def work(conn: Connection) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise _busy()
        return int(conn.execute(text("SELECT 7")).scalar_one())

    try:
        assert run_in_transaction(engine, work, attempts=5) == 7
        assert len(calls) == 3
    finally:
        engine.dispose()


def test_retry_is_bounded(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    calls: list[int] = []

    def work(conn: Connection) -> None:
        calls.append(1)
        raise _busy()

    try:
        with pytest.raises(OperationalError):
            run_in_transaction(engine, work, attempts=3)
        assert len(calls) == 3
    finally:
        engine.dispose()


def test_only_busy_and_serialization_errors_are_retryable() -> None:
    assert is_retryable(_busy())
    assert not is_retryable(OperationalError("x", {}, sqlite3.OperationalError("no such table: t")))
    assert not is_retryable(ValueError("x"))


def test_plain_postgresql_urls_use_psycopg3() -> None:
    engine = create_engine_for("postgresql://user@/db?host=/tmp")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


def test_read_only_transactions_do_not_queue_behind_a_writer(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as writer, writer.begin():  # BEGIN IMMEDIATE: holds the write lock
            writer.execute(text("UPDATE t SET v = 2"))
            started = time.monotonic()
            seen = run_in_transaction(
                engine, lambda conn: conn.execute(text("SELECT v FROM t")).scalar_one(), read_only=True
            )
            assert seen == 1  # the snapshot before the uncommitted write
            assert time.monotonic() - started < 1.0  # not the 10 s busy timeout
            # A writing transaction waits for the lock (here 0.1 s), then gives up.
            other = sqlite3.connect(tmp_path / "x.db", timeout=0.1, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        engine.dispose()


def test_a_read_only_transaction_that_writes_is_retried_until_the_writer_is_done(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        release = threading.Event()
        held = threading.Event()

        def hold() -> None:
            with engine.connect() as writer, writer.begin():
                writer.execute(text("UPDATE t SET v = 2"))
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(10)
        attempts: list[int] = []

        def write(conn: Connection) -> int:
            attempts.append(1)
            if len(attempts) == 1:
                threading.Timer(0.2, release.set).start()
            conn.execute(text("UPDATE t SET v = v + 10"))
            return int(conn.execute(text("SELECT v FROM t")).scalar_one())

        assert run_in_transaction(engine, write, read_only=True, attempts=10) == 12
        holder.join(10)
    finally:
        engine.dispose()


def test_writers_of_one_process_take_turns_on_the_writer_lock(tmp_path: Path) -> None:
    # Two engines on one file share the lock; it is free again after commits, rollbacks and a failed transaction.
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine, other = create_engine_for(url), create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))

        def writes(which: int) -> None:
            for _ in range(50):
                run_in_transaction(
                    engine if which % 2 else other, lambda c: c.execute(text("INSERT INTO t VALUES (1)"))
                )

        threads = [threading.Thread(target=writes, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with pytest.raises(ZeroDivisionError):
            run_in_transaction(engine, lambda c: [c.execute(text("INSERT INTO t VALUES (2)")), 1 / 0])
        with engine.connect() as conn:
            conn.begin()
            conn.execute(text("INSERT INTO t VALUES (3)"))  # returned to the pool uncommitted: rolled back
        assert not db_engine._HELD
        lock = db_engine._WRITE_LOCKS[str((tmp_path / "x.db").resolve())]
        assert not lock.locked()
        with engine.begin() as conn:
            assert lock.locked()
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 300
        assert not lock.locked()
    finally:
        engine.dispose()
        other.dispose()


@pytest.mark.postgres
def test_a_postgresql_connection_killed_while_idle_is_replaced_and_a_busy_one_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, admin = create_engine_for(pg_url, pool_size=1), create_engine_for(pg_url)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for _ in range(5):  # handed back and forth at once, as on a busy server: no ping
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        assert pings == []
        with admin.connect() as other:  # the database drops the idle connection (as on a restart)
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 0.0)
        with engine.connect() as conn:  # pinged, found dead, replaced: the caller never sees the error
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
        assert len(pings) == 1
    finally:
        engine.dispose()
        admin.dispose()
