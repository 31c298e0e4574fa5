"""VM operations: ``migrateVirtualMachine``, ``migrateVirtualMachineWithVolume`` and ``scaleVirtualMachine``
(async), ``changeServiceForVirtualMachine``.

They answer the VM in the lifecycle's ``VirtualMachineResponse`` (``scaleVirtualMachine``: ``success``, as
CloudStack's ``ScaleVMCmd``). Migration is root-admin only; scaling is open to the VM's owner.
"""

from __future__ import annotations

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, details_map
from provisioner.api.commands.virtual_machines import VM, VirtualMachineResponse, _vm
from provisioner.api.fields import BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.server.backend import backend_of
from provisioner.services.compute.operations import service


class MigrateParams(BaseParams):
    """Parameters of ``migrateVirtualMachine``."""

    virtualmachineid: str = param("the ID of the virtual machine", required=True, entity=VM)
    hostid: str | None = param(
        "Destination Host ID to migrate VM to; the allocator picks one when absent", entity="Host"
    )
    storageid: str | None = param("Destination storage pool ID to migrate VM volumes to", entity="StoragePool")
    autoselect: bool | None = param(
        "Automatically select a destination host which do not require storage migration, if hostId and storageId "
        "are not specified. false by default",
        since="4.16.0",
    )


@api_command(
    "migrateVirtualMachine",
    params=MigrateParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="1.0",
    authorized=ROOT_ONLY,
    entity_type=VM,
    description="Attempts Migration of a VM to a different host or Root volume of the vm to a different storage pool",
)
def migrate_virtual_machine(ctx: CommandContext, params: MigrateParams) -> VirtualMachineResponse:
    """Live-migrate a Running VM (its volumes stay on their shared pools)."""
    if params.storageid:
        return _vm(
            service.migrate_vm_with_volumes(
                backend_of(ctx).engine, ctx.caller, params.virtualmachineid, params.hostid, {"ROOT": params.storageid}
            )
        )
    return _vm(service.migrate_vm(backend_of(ctx).engine, ctx.caller, params.virtualmachineid, params.hostid))


class MigrateWithVolumeParams(BaseParams):
    """Parameters of ``migrateVirtualMachineWithVolume``."""

    virtualmachineid: str = param("the ID of the virtual machine", required=True, entity=VM)
    hostid: str | None = param("Destination Host ID to migrate VM to", entity="Host")
    migrateto: list[dict[str, str]] | None = param(
        "Storage to pool mapping: migrateto[0].volume=<uuid>&migrateto[0].pool=<uuid>"
    )
    autoselect: bool | None = param("Automatically select a destination host for a running instance", since="4.19.0")


@api_command(
    "migrateVirtualMachineWithVolume",
    params=MigrateWithVolumeParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="4.2.0",
    authorized=ROOT_ONLY,
    entity_type=VM,
    description="Attempts Migration of a VM with its volumes to a different host",
)
def migrate_with_volume(ctx: CommandContext, params: MigrateWithVolumeParams) -> VirtualMachineResponse:
    """Live-migrate a Running VM whose volumes stay where they are (storage motion is refused clearly)."""
    moves = {entry.get("volume", ""): entry.get("pool", "") for entry in params.migrateto or ()}
    return _vm(
        service.migrate_vm_with_volumes(
            backend_of(ctx).engine, ctx.caller, params.virtualmachineid, params.hostid, moves
        )
    )


class ScaleParams(BaseParams):
    """Parameters of ``scaleVirtualMachine`` and ``changeServiceForVirtualMachine``."""

    id: str = param("The ID of the virtual machine", required=True, entity=VM)
    serviceofferingid: str = param(
        "the ID of the service offering for the virtual machine", required=True, entity="ServiceOffering"
    )
    details: list[dict[str, str]] | None = param(
        "name value pairs of custom parameters for cpuSpeed, memory and cpunumber", since="4.3"
    )


@api_command(
    "scaleVirtualMachine",
    params=ScaleParams,
    is_async=True,
    since="4.2.0",
    entity_type=VM,
    description="Scales the virtual machine to a new service offering. This command also considers the volume size "
    "in the service offering or disk offering linked to the new service offering",
)
def scale_virtual_machine(ctx: CommandContext, params: ScaleParams) -> None:
    """Scale a Running VM up live in place (a Stopped one simply takes the offering)."""
    service.scale_vm(
        backend_of(ctx).engine, ctx.caller, params.id, params.serviceofferingid, details_map(params.details)
    )


@api_command(
    "changeServiceForVirtualMachine",
    params=ScaleParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    since="1.0",
    entity_type=VM,
    description='Changes the service offering for a virtual machine. The virtual machine must be in a "Stopped" '
    "state for this command to take effect.",
)
def change_service(ctx: CommandContext, params: ScaleParams) -> VirtualMachineResponse:
    """Give a Stopped VM another offering."""
    return _vm(
        service.change_service(
            backend_of(ctx).engine, ctx.caller, params.id, params.serviceofferingid, details_map(params.details)
        )
    )
