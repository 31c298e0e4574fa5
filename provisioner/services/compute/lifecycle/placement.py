"""Placing a VM that starts: the allocator over a zone snapshot, then the atomic reservation."""

from __future__ import annotations

from sqlalchemy import Connection

from provisioner.services.compute.allocator import Placement
from provisioner.services.compute.transitions import start_vm


def start(conn: Connection, vm_id: int, *, host_id: int | None, is_root_admin: bool) -> Placement:
    """Stopped -> Starting: place the VM and reserve its host and pool capacity in ``conn``'s transaction.

    Raises:
        ParamError: the VM is not Stopped (431).
        InsufficientCapacityError: nothing fits (533).
    """
    return start_vm(conn, vm_id, host_id=host_id, is_root_admin=is_root_admin)
