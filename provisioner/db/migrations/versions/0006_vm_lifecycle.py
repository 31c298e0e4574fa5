"""VM lifecycle.

Reserved revision: empty until its area adds columns or tables (each area owns one revision so that
work in parallel keeps a single head).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Revert this revision."""
