"""Engine settings for SQLite, the default location, and the retrying transaction helper."""

from __future__ import annotations

import sqlite3
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
