"""VM snapshots: ``createVMSnapshot`` (async-create), ``listVMSnapshot``, ``revertToVMSnapshot`` and
``deleteVMSnapshot`` (async); handlers only call :mod:`provisioner.services.snapshots.vm_snapshots`.

``listVMSnapshot`` lists under ``vmSnapshot`` (CloudStack's camel-case list key, which the Ansible
module reads), the create job answers ``vmsnapshot``, and the revert job the VM.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import call, listing
from provisioner.api.commands.tags import TagResponse
from provisioner.api.commands.virtual_machines import VirtualMachineResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command, create_step
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.compute.lifecycle import service as vm_service
from provisioner.services.snapshots import vm_snapshots


class VMSnapshotResponse(ResponseModel):
    """A VM snapshot (``VMSnapshotResponse``)."""

    id: str = Field(description="the ID of the vm snapshot")
    name: str = Field(description="the name of the vm snapshot")
    displayname: str | None = Field(default=None, description="the display name of the vm snapshot")
    description: str | None = Field(default=None, description="the description of the vm snapshot")
    state: str = Field(description="the state of the vm snapshot")
    type: str = Field(description="VM Snapshot type")
    current: bool = Field(description="indiates if this is current snapshot")
    parent: str | None = Field(default=None, description="the parent ID of the vm snapshot")
    parentName: str | None = Field(default=None, description="the parent displayName of the vm snapshot")
    created: CsDateTime | None = Field(default=None, description="the create date of the vm snapshot")
    zoneid: str | None = Field(default=None, description="the Zone ID of the vm snapshot")
    virtualmachineid: str = Field(description="the vm ID of the vm snapshot")
    virtualmachinename: str | None = Field(default=None, description="the vm name of the vm snapshot")
    hypervisor: str | None = Field(default=None, description="the type of hypervisor on which snapshot is stored")
    account: str | None = Field(default=None, description="the account associated with the vm snapshot")
    domainid: str | None = Field(default=None, description="the ID of the domain associated with the vm snapshot")
    domain: str | None = Field(default=None, description="the domain associated with the vm snapshot")
    domainpath: str | None = Field(default=None, description="path of the domain the vm snapshot's account belongs to")
    tags: list[TagResponse] = Field(default_factory=list, description="the list of resource tags")


class CreateVMSnapshotParams(BaseParams):
    """Parameters of ``createVMSnapshot``."""

    virtualmachineid: str = param("The ID of the vm", required=True, type="uuid")
    name: str | None = param("The display name of the snapshot")
    description: str | None = param("The description of the snapshot")
    snapshotmemory: bool | None = param("snapshot memory if true")
    quiescevm: bool | None = param("quiesce vm if true")


@api_command(
    "createVMSnapshot",
    params=CreateVMSnapshotParams,
    response=VMSnapshotResponse,
    response_key="vmsnapshot",
    is_async=True,
    create=True,
    since="4.2.0",
    entity_type="VMSnapshot",
    description="Creates snapshot for a vm.",
)
def create_vm_snapshot(ctx: CommandContext, params: CreateVMSnapshotParams) -> VMSnapshotResponse:
    """The hypervisor takes the snapshot; it becomes the VM's current one."""
    assert ctx.entity_id is not None
    engine = backend_of(ctx).engine
    return VMSnapshotResponse.model_validate(vm_snapshots.take_vm_snapshot(engine, ctx.caller, ctx.entity_id))


@create_step("createVMSnapshot")
def create_vm_snapshot_row(ctx: CommandContext, params: CreateVMSnapshotParams) -> str:
    """The Allocated VM snapshot, so its id is known before the job runs."""
    return str(
        call(
            ctx,
            vm_snapshots.create_vm_snapshot_row,
            params.virtualmachineid,
            name=params.name,
            description=params.description,
            snapshotmemory=bool(params.snapshotmemory),
        )
    )


class ListVMSnapshotParams(ListDomainResourcesParams):
    """Parameters of ``listVMSnapshot``."""

    vmsnapshotid: str | None = param("The ID of the VM snapshot", type="uuid")
    vmsnapshotids: list[str] | None = param("the IDs of the vm snapshots, mutually exclusive with vmsnapshotid")
    virtualmachineid: str | None = param("the ID of the vm", type="uuid")
    name: str | None = param("lists snapshot by snapshot name or display name")
    state: str | None = param("state of the virtual machine snapshot")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    projectid: str | None = param("list objects by project")


@api_command(
    "listVMSnapshot",
    params=ListVMSnapshotParams,
    response=VMSnapshotResponse,
    response_key="vmSnapshot",
    list=True,
    since="4.2.0",
    description="List virtual machine snapshot by conditions",
)
def list_vm_snapshot(ctx: CommandContext, params: ListVMSnapshotParams) -> ListResult[VMSnapshotResponse]:
    """List the VM snapshots the caller may see."""
    return listing(
        ctx,
        VMSnapshotResponse,
        vm_snapshots.list_vm_snapshots,
        vmsnapshotid=params.vmsnapshotid,
        vmsnapshotids=params.vmsnapshotids,
        virtualmachineid=params.virtualmachineid,
        name=params.name,
        state=params.state,
        keyword=params.keyword,
        tags=params.tags,
        account_name=params.account,
        domainid=params.domainid,
        listall=bool(params.listall),
        isrecursive=bool(params.isrecursive),
    )


class VMSnapshotIdParams(BaseParams):
    """Parameters of ``revertToVMSnapshot`` and ``deleteVMSnapshot``."""

    vmsnapshotid: str = param("The ID of the vm snapshot", required=True, type="uuid")


@api_command(
    "revertToVMSnapshot",
    params=VMSnapshotIdParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="4.2.0",
    entity_type="VMSnapshot",
    description="Revert VM from a vmsnapshot.",
)
def revert_to_vm_snapshot(ctx: CommandContext, params: VMSnapshotIdParams) -> VirtualMachineResponse:
    """Return the VM to the snapshot; the job answers the VM (the VM core area's view of it)."""
    engine = backend_of(ctx).engine
    vm_id = vm_snapshots.revert_to_vm_snapshot(engine, ctx.caller, params.vmsnapshotid)
    return VirtualMachineResponse.model_validate(vm_service.view(engine, ctx.caller, vm_id))


@api_command(
    "deleteVMSnapshot",
    params=VMSnapshotIdParams,
    is_async=True,
    since="4.2.0",
    entity_type="VMSnapshot",
    description="Deletes a vmsnapshot.",
)
def delete_vm_snapshot(ctx: CommandContext, params: VMSnapshotIdParams) -> None:
    """Drop the snapshot from the hypervisor."""
    vm_snapshots.delete_vm_snapshot(backend_of(ctx).engine, ctx.caller, params.vmsnapshotid)
