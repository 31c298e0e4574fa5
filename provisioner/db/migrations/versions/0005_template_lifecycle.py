"""Template and ISO lifecycle.

Reserved revision: empty until its area adds columns or tables (each area owns one revision so that
work in parallel keeps a single head).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Revert this revision."""
