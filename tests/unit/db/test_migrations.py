"""Migrations reach head on SQLite and PostgreSQL, and the metadata has no drift from them."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from provisioner.db.migrate import current_revision, head_revision, upgrade
from provisioner.db.schema import metadata


def test_upgrade_reaches_head_and_is_idempotent(db_engine: Engine) -> None:
    assert current_revision(db_engine) == head_revision()
    upgrade(db_engine)  # a second start must be a no-op
    assert current_revision(db_engine) == head_revision()
    tables = set(inspect(db_engine).get_table_names())
    assert {"domain", "account", "user", "role", "role_permission", "api_session", "async_job", "mshost"} <= tables
    assert {"configuration", "resource_tag"} <= tables


def test_no_drift_between_metadata_and_migrations(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_from_url(db_url: str) -> None:
    upgrade(db_url)
    from provisioner.db.engine import create_engine_for

    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_domain_path_index_exists(db_engine: Engine) -> None:
    indexes = {ix["name"]: ix for ix in inspect(db_engine).get_indexes("domain")}
    assert indexes["ix_domain_path"]["column_names"] == ["path"]
    if db_engine.dialect.name == "postgresql":
        with db_engine.connect() as conn:
            definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_domain_path'"))
            assert "text_pattern_ops" in definition.scalar_one()


def test_live_names_are_unique_but_soft_deleted_ones_free_them(db_engine: Engine) -> None:
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError

    from provisioner.db.schema import domain, utcnow

    with db_engine.begin() as conn:
        root = conn.execute(insert(domain).values(name="ROOT", path="/")).inserted_primary_key
        assert root is not None
        conn.execute(insert(domain).values(name="a", path="/a/", parent_id=root[0], level=1))
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(insert(domain).values(name="a", path="/a/", parent_id=root[0], level=1))
    with db_engine.begin() as conn:
        conn.execute(update(domain).where(domain.c.path == "/a/").values(removed=utcnow()))
        conn.execute(insert(domain).values(name="a", path="/a/", parent_id=root[0], level=1))
