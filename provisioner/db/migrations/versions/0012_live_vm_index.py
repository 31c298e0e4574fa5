"""The live VMs in id order: ``ix_vm_instance_live_id`` (partial index on ``id`` where ``removed IS NULL``).

``listVirtualMachines`` counts the visible VMs and walks its OFFSET in id order; with this index PostgreSQL does
both as an index-only scan instead of reading every row of ``vm_instance`` for its ``removed`` column.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    live = sa.text("removed IS NULL")
    op.create_index("ix_vm_instance_live_id", "vm_instance", ["id"], sqlite_where=live, postgresql_where=live)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_vm_instance_live_id", table_name="vm_instance")
