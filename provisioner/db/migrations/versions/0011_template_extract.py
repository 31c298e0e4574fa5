"""Template extraction links: ``template_extract`` (``extractTemplate`` / ``extractIso`` download URLs).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "template_extract",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("template_id", big_id, nullable=False),
        sa.Column("store_ref_id", big_id, nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["vm_template.id"],
            name=op.f("fk_template_extract_template_id_vm_template"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_ref_id"],
            ["template_store_ref.id"],
            name=op.f("fk_template_extract_store_ref_id_template_store_ref"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_extract")),
    )
    with op.batch_alter_table("template_extract", schema=None) as batch_op:
        batch_op.create_index("ix_template_extract_token_hash", ["token_hash"], unique=True)
        batch_op.create_index("ix_template_extract_expires", ["expires"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("template_extract", schema=None) as batch_op:
        batch_op.drop_index("ix_template_extract_expires")
        batch_op.drop_index("ix_template_extract_token_hash")
    op.drop_table("template_extract")
