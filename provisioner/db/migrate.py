"""Schema migrations, run programmatically on server start and by ``provisioner db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from provisioner.db.engine import create_engine_for

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x70726F77


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine_or_url: Engine | str | None, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; a no-op when it is there already.

    Args:
        engine_or_url: an engine, a database URL, or None for the embedded SQLite database.
        revision: the target revision (default: the newest).
    """
    engine = engine_or_url if isinstance(engine_or_url, Engine) else create_engine_for(engine_or_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Servers starting together migrate one after the other (DDL is transactional there).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), revision)
    finally:
        if engine is not engine_or_url:
            engine.dispose()
