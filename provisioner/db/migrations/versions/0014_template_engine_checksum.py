"""The engine's checksum of each template copy: ``template_store_ref.engine_checksum`` (``{XXH3}hex``).

A template registered with the user's checksum (``{SHA256}``, ``{SHA512}``, ``{MD5}``) had its store-to-store
replicas verified with that algorithm again, which made SHA-256, not the disks or the network, the speed of a
replication. The download is still verified with the user's algorithm; the engine's XXH3-128 of the same bytes is
recorded beside it, and replicas are verified against that. Existing copies have none (NULL): theirs are verified
with the user's algorithm as before.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("template_store_ref", sa.Column("engine_checksum", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("template_store_ref") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("engine_checksum")
