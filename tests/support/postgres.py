"""A private PostgreSQL 15 cluster for the test run, and ``db_url`` running each DB test on SQLite and PostgreSQL.

The cluster lives in a temporary directory owned by ``postgres``, listens on a unix socket only,
and is stopped by the PID it recorded. Each test gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from provisioner.db.engine import create_engine_for
from provisioner.db.migrate import upgrade
from tests.support.tools import missing

PG_BIN = Path(os.environ.get("PROVISIONER_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORT = 54329  # only names the socket file: the cluster has no TCP listener


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: its socket directory, port and postmaster PID."""

    socket_dir: Path
    port: int
    pid: int

    def url(self, database: str) -> str:
        """An SQLAlchemy URL for ``database`` over the unix socket."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def admin(self, sql: str) -> None:
        """Run one statement on the ``postgres`` database in autocommit mode."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(sql.encode())


def _as_postgres() -> tuple[int, int] | None:
    """The postgres (uid, gid) to drop to when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _stop(pid: int, timeout: float = 10.0) -> None:
    """Fast shutdown (SIGINT) of exactly this postmaster, SIGKILL if it does not go in time."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a PostgreSQL 15 cluster for the whole run (skip, or fail under ``make test``, when absent)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        missing(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb)")
    try:
        ids = _as_postgres()
    except KeyError:
        missing("the postgres system user does not exist")
        raise
    work = Path(tempfile.mkdtemp(prefix="provisioner-pg-"))
    data = work / "data"
    uid, gid = ids if ids else (None, None)
    if ids:
        os.chown(work, *ids)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
        cwd=work,
        timeout=120,
        user=uid,
        group=gid,
    )
    options = f"-k {work} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=200"
    subprocess.run(
        [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
        cwd=work,
        timeout=120,
        user=uid,
        group=gid,
    )
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    try:
        yield PostgresCluster(work, PORT, pid)
    finally:
        _stop(pid)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database on the shared cluster; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_cluster.admin(f"CREATE DATABASE {name}")
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'provisioner.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run (per xdist worker): ``db_engine`` starts from a copy."""
    path = tmp_path_factory.mktemp("db-template") / "provisioner.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster) -> str:
    """A database migrated to head once per run on the shared cluster: ``db_engine`` clones it
    (``CREATE DATABASE … TEMPLATE``, a file copy) instead of running every migration per test."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    postgres_cluster.admin(f"CREATE DATABASE {name}")
    engine = create_engine_for(postgres_cluster.url(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # a template must have no sessions when it is cloned
    return name


@pytest.fixture
def db_engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a migrated (``upgrade`` to head) database, disposed after the test.

    The database starts as a copy of one migrated once per run (:func:`sqlite_template`,
    :func:`postgres_template`), so ``upgrade`` here finds it at head: every test gets the same schema
    the migrations make, without paying for every migration each time. The migrations themselves are
    tested from an empty database in tests/unit/db.
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        target = Path(url.database)
        if not target.exists():
            shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
    elif url.get_backend_name() == "postgresql" and url.database:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        template: str = request.getfixturevalue("postgres_template")
        cluster.admin(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
        cluster.admin(f"CREATE DATABASE {url.database} TEMPLATE {template}")
    engine = create_engine_for(db_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
