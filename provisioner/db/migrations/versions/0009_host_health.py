"""Host health and VM operations: ``vm_migration``, the destination capacity a live migration holds.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "vm_migration",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("vm_id", big_id, nullable=False),
        sa.Column("source_host_id", big_id, nullable=False),
        sa.Column("dest_host_id", big_id, nullable=False),
        sa.Column("cpu_mhz", sa.BigInteger(), nullable=False),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("memory", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vm_instance.id"], name=op.f("fk_vm_migration_vm_id_vm_instance"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["source_host_id"], ["host.id"], name=op.f("fk_vm_migration_source_host_id_host")),
        sa.ForeignKeyConstraint(["dest_host_id"], ["host.id"], name=op.f("fk_vm_migration_dest_host_id_host")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_migration")),
    )
    with op.batch_alter_table("vm_migration", schema=None) as batch_op:
        batch_op.create_index("ix_vm_migration_vm_id", ["vm_id"], unique=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("vm_migration", schema=None) as batch_op:
        batch_op.drop_index("ix_vm_migration_vm_id")
    op.drop_table("vm_migration")
