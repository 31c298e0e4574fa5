"""Resource limits: ``resource_limit``, the explicit limits of accounts and domains (``updateResourceLimit``).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "resource_limit",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("account_id", big_id, nullable=True),
        sa.Column("domain_id", big_id, nullable=True),
        sa.Column("max", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_resource_limit_account_id_account"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domain.id"], name=op.f("fk_resource_limit_domain_id_domain"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_limit")),
    )
    with op.batch_alter_table("resource_limit", schema=None) as batch_op:
        batch_op.create_index("ix_resource_limit_account_id_type", ["account_id", "type"], unique=True)
        batch_op.create_index("ix_resource_limit_domain_id_type", ["domain_id", "type"], unique=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("resource_limit", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_limit_domain_id_type")
        batch_op.drop_index("ix_resource_limit_account_id_type")
    op.drop_table("resource_limit")
