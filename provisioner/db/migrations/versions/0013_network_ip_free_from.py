"""The IP allocator's cursor: ``network.ip_free_from`` (no address of the range below it is free).

Without it, finding a network's lowest free address meant counting the addresses already handed out on every
allocation, so deployments slowed down as a network filled. With it, the allocator reads the few index entries
from the cursor on. Existing networks start without a cursor (NULL: from the start of the range); their first
allocation finds the first free address once and sets it.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("network", sa.Column("ip_free_from", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("network") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("ip_free_from")
