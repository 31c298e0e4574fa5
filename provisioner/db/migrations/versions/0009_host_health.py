"""Host health and maintenance.

Reserved revision: empty until its area adds columns or tables (each area owns one revision so that
work in parallel keeps a single head).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Revert this revision."""
