"""Guest networks, NICs, SSH key pairs, affinity and instance groups.

Reserved revision: empty until its area adds columns or tables (each area owns one revision so that
work in parallel keeps a single head).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Revert this revision."""
