"""Volume snapshots on primary storage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from provisioner.exceptions import UnsupportedActionError


def restore_into(engine: Engine, snapshot_id: int, driver_name: str, pool: Mapping[str, Any], path: str) -> None:
    """Write a snapshot's data into the new disk ``path`` on ``pool``."""
    raise UnsupportedActionError(f"Creating a volume from snapshot {snapshot_id} is not supported yet")
