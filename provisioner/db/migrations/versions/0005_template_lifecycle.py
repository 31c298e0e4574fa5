"""Template and ISO lifecycle: ``vm_iso``, the ISO attached to a VM's CD-ROM drive.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "vm_iso",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("vm_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("template_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vm_instance.id"], name=op.f("fk_vm_iso_vm_id_vm_instance"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["template_id"], ["vm_template.id"], name=op.f("fk_vm_iso_template_id_vm_template")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_iso")),
    )
    with op.batch_alter_table("vm_iso", schema=None) as batch_op:
        batch_op.create_index("ix_vm_iso_template_id", ["template_id"], unique=False)
        batch_op.create_index("ix_vm_iso_vm_id", ["vm_id"], unique=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("vm_iso", schema=None) as batch_op:
        batch_op.drop_index("ix_vm_iso_vm_id")
        batch_op.drop_index("ix_vm_iso_template_id")
    op.drop_table("vm_iso")
