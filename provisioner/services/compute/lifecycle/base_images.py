"""The template base image a root disk is a qcow2 overlay on, counted per pool while the root disk uses it.

A root volume holds one count on its template's base image from the start that created its disk
(its ``path`` is then set) until it is expunged. Both calls run outside any transaction: the first
use of a template on a pool copies it there (``services.templates.deploy``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from provisioner.db.schema import storage_pool, volume
from provisioner.services.templates.deploy import acquire_base_image, release_base_image

# Built once: every start reads them.
_POOL = select(storage_pool).where(storage_pool.c.id == bindparam("pool_id"))
_ROOT = select(volume.c.template_id, volume.c.pool_id, volume.c.path).where(
    volume.c.vm_id == bindparam("vm_id"), volume.c.volume_type == "ROOT", volume.c.removed.is_(None)
)


def _pool(conn: Connection, pool_id: int) -> dict[str, Any]:
    row = conn.execute(_POOL, {"pool_id": pool_id}).mappings().one()
    return {str(key): value for key, value in row.items()}


def _root_base(conn: Connection, vm_id: int, *, created: bool) -> tuple[int, dict[str, Any]] | None:
    root = conn.execute(_ROOT, {"vm_id": vm_id}).first()
    if root is None or root.template_id is None or root.pool_id is None or (root.path is not None) != created:
        return None
    return int(root.template_id), _pool(conn, root.pool_id)


def root_needing_base(conn: Connection, vm_id: int) -> tuple[int, dict[str, Any]] | None:
    """(template id, pool row) when the VM's root disk is still to be created on a template's base image."""
    return _root_base(conn, vm_id, created=False)


def acquire(engine: Engine, needed: tuple[int, dict[str, Any]] | None) -> str | None:
    """Count one more user of the base image (copying it to the pool first if needed); its path, or None."""
    if needed is None:
        return None
    template_id, pool = needed
    return acquire_base_image(engine, template_id, pool)


def release(engine: Engine, needed: tuple[int, dict[str, Any]] | None) -> None:
    """Give back what :func:`acquire` counted."""
    if needed is not None:
        release_base_image(engine, needed[0], needed[1])


def held_by_root(conn: Connection, vm_id: int) -> tuple[int, dict[str, Any]] | None:
    """(template id, pool row) of the base image the VM's created root disk holds, if any (expunge)."""
    return _root_base(conn, vm_id, created=True)
