"""Volumes and snapshots.

Reserved revision: empty until its area adds columns or tables (each area owns one revision so that
work in parallel keeps a single head).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Revert this revision."""
