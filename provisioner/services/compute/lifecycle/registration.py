"""What the lifecycle registers with other areas: VMs as taggable ``UserVm`` resources, and their id resolver."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from provisioner.db.schema import vm_instance
from provisioner.services.common import live_uuids
from provisioner.services.compute.lifecycle.views import VM_RESOURCE_TYPE
from provisioner.services.tags import Owner, register_resource_type

#: ``param(entity=...)`` kinds naming VMs.
VM_ENTITIES = frozenset({"VirtualMachine", "UserVm"})


def vm_owners(conn: Connection, uuids: Sequence[str]) -> dict[str, Owner]:
    """The owners of the live VMs among ``uuids`` (tags' owner lookup)."""
    rows = conn.execute(
        select(vm_instance.c.uuid, vm_instance.c.account_id, vm_instance.c.domain_id).where(
            vm_instance.c.uuid.in_(list(uuids)), vm_instance.c.removed.is_(None)
        )
    )
    return {uuid: (account_id, domain_id) for uuid, account_id, domain_id in rows.tuples()}


def vm_ids(conn: Connection, entity: str, ids: Sequence[str]) -> set[str] | None:
    """The API's id resolver for VM parameters; None for other kinds."""
    return live_uuids(conn, vm_instance, ids) if entity in VM_ENTITIES else None


register_resource_type(VM_RESOURCE_TYPE, vm_owners)
