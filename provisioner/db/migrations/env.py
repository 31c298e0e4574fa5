"""Alembic environment: runs on the connection :mod:`provisioner.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from provisioner.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
