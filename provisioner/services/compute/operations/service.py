"""The VM operations as the API calls them: resolve public ids, check the caller, act, answer the VM's row.

Functions take the engine: they reach hypervisors between short transactions, never inside one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, service_offering
from provisioner.exceptions import ParamError
from provisioner.services.common import row_by_uuid
from provisioner.services.compute.lifecycle import power
from provisioner.services.compute.lifecycle import service as lifecycle
from provisioner.services.compute.lifecycle.access import vm_by_uuid
from provisioner.services.compute.operations import maintenance, migrate, scale
from provisioner.services.infrastructure.common import require_root
from provisioner.services.principal import Caller

Row = dict[str, Any]


def migrate_vm(engine: Engine, caller: Caller, uuid: str, host_uuid: str | None = None) -> Row:
    """``migrateVirtualMachine``: live-migrate a Running VM to ``host_uuid`` or to a host the allocator picks.

    Raises:
        PermissionDeniedError: the caller is not a root admin (531).
        ParamError / InsufficientCapacityError / InternalError: see :func:`.migrate.migrate`.
    """
    require_root(caller, "migrateVirtualMachine")

    def resolve(conn: Any) -> tuple[int, int | None]:
        vm_id = int(vm_by_uuid(conn, caller, uuid).id)
        return vm_id, int(row_by_uuid(conn, host, host_uuid, "host").id) if host_uuid else None

    vm_id, host_id = run_in_transaction(engine, resolve)
    migrate.migrate(engine, vm_id, host_id)
    return lifecycle.view(engine, caller, vm_id)


def migrate_vm_with_volumes(
    engine: Engine, caller: Caller, uuid: str, host_uuid: str | None, migrate_to: Mapping[str, str]
) -> Row:
    """``migrateVirtualMachineWithVolume``: a live migration whose volumes stay on their (shared) pools.

    Raises:
        ParamError: a volume is asked to move to another pool: storage motion is not supported (431).
    """
    if migrate_to:
        raise ParamError(
            "Unable to migrate the volumes of the VM: storage live migration is not supported; the VM's "
            "volumes stay on their shared pools, so call migrateVirtualMachineWithVolume without migrateto"
        )
    return migrate_vm(engine, caller, uuid, host_uuid)


def _resolve_offering(engine: Engine, caller: Caller, uuid: str, offering_uuid: str) -> tuple[int, int]:
    def resolve(conn: Any) -> tuple[int, int]:
        vm_id = int(vm_by_uuid(conn, caller, uuid).id)
        return vm_id, int(row_by_uuid(conn, service_offering, offering_uuid, "service offering").id)

    return run_in_transaction(engine, resolve)


def scale_vm(engine: Engine, caller: Caller, uuid: str, offering_uuid: str, details: Mapping[str, str]) -> Row:
    """``scaleVirtualMachine``: a Running VM scaled up live in place, a Stopped one given the offering."""
    vm_id, offering_id = _resolve_offering(engine, caller, uuid, offering_uuid)
    scale.scale(engine, vm_id, offering_id, details=dict(details))
    return lifecycle.view(engine, caller, vm_id)


def change_service(engine: Engine, caller: Caller, uuid: str, offering_uuid: str, details: Mapping[str, str]) -> Row:
    """``changeServiceForVirtualMachine``: a Stopped VM takes another offering."""
    vm_id, offering_id = _resolve_offering(engine, caller, uuid, offering_uuid)
    scale.scale(engine, vm_id, offering_id, details=dict(details), running_ok=False)
    return lifecycle.view(engine, caller, vm_id)


def _stop(engine: Engine, vm_id: int) -> None:
    power.stop(engine, vm_id)


def prepare_host_for_maintenance(engine: Engine, caller: Caller, uuid: str) -> Row:
    """``prepareHostForMaintenance``: the host's Running VMs migrate away, then it is in Maintenance."""
    return maintenance.prepare_host_for_maintenance(engine, caller, uuid)


def enable_storage_maintenance(engine: Engine, caller: Caller, uuid: str) -> Row:
    """``enableStorageMaintenance``: the VMs using the pool stop (the lifecycle's stop), then it is in Maintenance."""
    return maintenance.enable_storage_maintenance(engine, caller, uuid, stop=_stop)
