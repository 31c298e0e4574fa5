"""The template base image a root disk is a qcow2 overlay on, counted per pool while volumes use it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def acquire(conn: Connection, vm: Any, pool_id: int | None) -> str | None:
    """The base image path of ``vm``'s template on ``pool_id`` for its root disk, or None (no template copy yet)."""
    return None


def release(conn: Connection, vm_id: int) -> None:
    """Give back what :func:`acquire` counted for ``vm_id``'s root disk."""
