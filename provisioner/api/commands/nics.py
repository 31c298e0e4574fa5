"""A VM's NICs: ``listNics`` and the async ``addNicToVirtualMachine``, ``removeNicFromVirtualMachine``,
``updateDefaultNicForVirtualMachine`` and ``updateVmNicIp`` (every role, on VMs the caller may act on).

The changes answer the VM (``virtualmachine`` with its ``nic`` array), as CloudStack does; the NIC and VM
response models are the VM lifecycle's (``api/commands/virtual_machines.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from provisioner.api.commands.infrastructure_common import EVERYONE, call, listing
from provisioner.api.commands.virtual_machines import NicResponse, VirtualMachineResponse
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult
from provisioner.server.backend import backend_of
from provisioner.services.compute.lifecycle import views
from provisioner.services.networks import nic_plug, nics
from provisioner.services.principal import Caller

VM = "VirtualMachine"


def _vm_response(row: dict[str, Any]) -> VirtualMachineResponse:
    for entry in row["nic"]:
        entry.setdefault("virtualmachineid", row["id"])
    return VirtualMachineResponse.model_validate(row)


def answer_vm(ctx: CommandContext, change: Callable[..., int], **kwargs: Any) -> VirtualMachineResponse:
    """Run a NIC change and answer the VM as it is after it, in the same transaction."""

    def work(conn: Connection, caller: Caller) -> dict[str, Any]:
        return views.get_vm(conn, caller, change(conn, caller, **kwargs))

    return _vm_response(call(ctx, work))


def plug_and_answer(
    ctx: CommandContext, change: Callable[..., dict[str, Any]], **kwargs: Any
) -> VirtualMachineResponse:
    """Run a NIC change that tells the hypervisor (:mod:`~provisioner.services.networks.nic_plug`), answer the VM."""
    return _vm_response(change(backend_of(ctx).engine, ctx.caller, **kwargs))


class ListNicsParams(BaseListParams):
    """Parameters of ``listNics``."""

    virtualmachineid: str = param("the ID of the vm", required=True, entity=VM)
    nicid: str | None = param("the ID of the nic to list IPs", entity="Nic")
    networkid: str | None = param("list nic of the specific vm's network", entity="Network")
    fordisplay: bool | None = param(
        "list resources by display flag; only ROOT admin is eligible to pass this parameter"
    )


@api_command(
    "listNics",
    params=ListNicsParams,
    response=NicResponse,
    response_key="nic",
    list=True,
    since="4.2.0",
    authorized=EVERYONE,
    description="list the vm nics  IP to NIC",
)
def list_nics(ctx: CommandContext, params: ListNicsParams) -> ListResult[NicResponse]:
    """The NICs of one VM, by device order."""
    return listing(
        ctx,
        NicResponse,
        nics.list_nics,
        virtualmachineid=params.virtualmachineid,
        nicid=params.nicid,
        networkid=params.networkid,
        keyword=params.keyword,
    )


def _async_nic(name: str, params: type[BaseParams], since: str, description: str) -> Callable[[Any], Any]:
    return api_command(
        name,
        params=params,
        response=VirtualMachineResponse,
        response_key="virtualmachine",
        is_async=True,
        since=since,
        authorized=EVERYONE,
        description=description,
        entity_type=VM,
    )


class AddNicParams(BaseParams):
    """Parameters of ``addNicToVirtualMachine``."""

    virtualmachineid: str = param("Virtual Machine ID", required=True, entity=VM)
    networkid: str = param("Network ID", required=True, entity="Network")
    ipaddress: str | None = param("IP Address for the new network")
    macaddress: str | None = param("Mac Address for the new network", since="4.13")
    dhcpoptions: list[dict[str, str]] | None = param("DHCP options which are passed to the nic", since="4.11")


@_async_nic("addNicToVirtualMachine", AddNicParams, "4.2.0", "Adds VM to specified network by creating a NIC")
def add_nic_to_virtual_machine(ctx: CommandContext, params: AddNicParams) -> VirtualMachineResponse:
    """Plug the VM into another network, with the address asked for or the first free one (hot-plugged when it runs)."""
    return plug_and_answer(
        ctx,
        nic_plug.add_nic,
        virtualmachineid=params.virtualmachineid,
        networkid=params.networkid,
        ipaddress=params.ipaddress,
        macaddress=params.macaddress,
    )


class RemoveNicParams(BaseParams):
    """Parameters of ``removeNicFromVirtualMachine``."""

    virtualmachineid: str = param("Virtual Machine ID", required=True, entity=VM)
    nicid: str = param("NIC ID", required=True, entity="Nic")


@_async_nic(
    "removeNicFromVirtualMachine", RemoveNicParams, "4.2.0", "Removes VM from specified network by deleting a NIC"
)
def remove_nic_from_virtual_machine(ctx: CommandContext, params: RemoveNicParams) -> VirtualMachineResponse:
    """Unplug a non-default NIC (live when the VM runs) and free its address."""
    return plug_and_answer(ctx, nic_plug.remove_nic, virtualmachineid=params.virtualmachineid, nicid=params.nicid)


@_async_nic(
    "updateDefaultNicForVirtualMachine",
    RemoveNicParams,
    "4.2.0",
    "Changes the default NIC on a VM",
)
def update_default_nic_for_virtual_machine(ctx: CommandContext, params: RemoveNicParams) -> VirtualMachineResponse:
    """Make another NIC the VM's default."""
    return answer_vm(ctx, nics.update_default_nic, virtualmachineid=params.virtualmachineid, nicid=params.nicid)


class UpdateVmNicIpParams(BaseParams):
    """Parameters of ``updateVmNicIp``."""

    nicid: str = param("the ID of the nic to which you want to assign private IP", required=True, entity="Nic")
    ipaddress: str | None = param("Secondary IP Address")


@_async_nic("updateVmNicIp", UpdateVmNicIpParams, "4.4", "Update the default Ip of a VM Nic")
def update_vm_nic_ip(ctx: CommandContext, params: UpdateVmNicIpParams) -> VirtualMachineResponse:
    """Move the NIC to another address of its network (the first free one without ``ipaddress``)."""
    return answer_vm(ctx, nics.update_nic_ip, nicid=params.nicid, ipaddress=params.ipaddress)
