"""VMs: ``deployVirtualMachine`` (async-create), start/stop/reboot/destroy/expunge (async), recover, update,
SSH key and password resets, user data, and ``listVirtualMachines``.

Fields and JSON types follow ``apache/cloudstack-go`` ``VirtualMachineService.go``: ``cpunumber``, ``cpuspeed``
and ``memory`` are numbers, ``details`` a string map, ``nic`` always a list. The host, instance name, pod and
cluster are root-admin fields (``UserVmJoinDaoImpl``'s Full view), left out for everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import details_map
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, HandlerT, api_command, create_step
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.exceptions import ParamError
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.compute.lifecycle import service, views

VM = "VirtualMachine"


class NicResponse(ResponseModel):
    """A NIC of a VM (``NicResponse``)."""

    id: str = Field(description="the ID of the nic")
    networkid: str = Field(description="the ID of the corresponding network")
    networkname: str | None = Field(default=None, description="the name of the corresponding network")
    ipaddress: str | None = Field(default=None, description="the ip address of the nic")
    netmask: str | None = Field(default=None, description="the netmask of the nic")
    gateway: str | None = Field(default=None, description="the gateway of the nic")
    macaddress: str | None = Field(default=None, description="true if nic is default, false otherwise")
    isdefault: bool = Field(description="true if nic is default, false otherwise")
    traffictype: str | None = Field(default=None, description="the traffic type of the nic")
    type: str | None = Field(default=None, description="the type of the nic")
    broadcasturi: str | None = Field(default=None, description="the broadcast uri of the nic")
    isolationuri: str | None = Field(default=None, description="the isolation uri of the nic")
    deviceid: str | None = Field(default=None, description="device id for the network when plugged into the VM")
    mode: str | None = Field(default=None, description="the ip address assignment mode (Dhcp or Static)")
    virtualmachineid: str | None = Field(default=None, description="Id of the vm to which the nic belongs")


class VmAffinityGroup(ResponseModel):
    """An affinity group a VM is in (the ``affinitygroup`` entries of ``UserVmResponse``)."""

    id: str = Field(description="the ID of the affinity group")
    name: str = Field(description="the name of the affinity group")
    type: str = Field(description="the type of the affinity group")
    description: str | None = Field(default=None, description="the description of the affinity group")


class VirtualMachineResponse(ResponseModel):
    """A VM (``UserVmResponse``)."""

    id: str = Field(description="the ID of the virtual machine")
    name: str = Field(description="the name of the virtual machine")
    displayname: str = Field(description="user generated name; the name of the virtual machine when it has none")
    state: str = Field(description="the state of the virtual machine")
    account: str = Field(description="the account associated with the virtual machine")
    domainid: str = Field(description="the ID of the domain in which the virtual machine exists")
    domain: str = Field(description="the name of the domain in which the virtual machine exists")
    domainpath: str | None = Field(default=None, description="path of the domain in which the virtual machine exists")
    created: CsDateTime = Field(description="the date when this virtual machine was created")
    lastupdated: CsDateTime | None = Field(
        default=None, description="the date when this virtual machine was updated last"
    )
    zoneid: str = Field(description="the ID of the availability zone for the virtual machine")
    zonename: str = Field(description="the name of the availability zone for the virtual machine")
    templateid: str | None = Field(default=None, description="the ID of the template for the virtual machine")
    templatename: str | None = Field(default=None, description="the name of the template for the virtual machine")
    templatedisplaytext: str | None = Field(default=None, description="an alternate display text of the template")
    templateformat: str | None = Field(default=None, description="the format of the template for the virtual machine")
    passwordenabled: bool = Field(description="true if the password rest feature is enabled, false otherwise")
    password: str | None = Field(default=None, description="the password (if exists) of the virtual machine")
    isdynamicallyscalable: bool = Field(description="true if the VM supports dynamic scaling of CPU and memory")
    guestosid: str | None = Field(default=None, description="Os type ID of the virtual machine")
    ostypeid: str | None = Field(default=None, description="OS type id of the vm")
    osdisplayname: str | None = Field(default=None, description="OS name of the vm")
    serviceofferingid: str = Field(description="the ID of the service offering of the virtual machine")
    serviceofferingname: str = Field(description="the name of the service offering of the virtual machine")
    cpunumber: int = Field(description="the number of vCPUs this virtual machine is using")
    cpuspeed: int = Field(description="the speed of each vCPU")
    memory: int = Field(description="the memory allocated for the virtual machine")
    hypervisor: str | None = Field(default=None, description="the hypervisor on which the template runs")
    haenable: bool = Field(description="true if high-availability is enabled, false otherwise")
    displayvm: bool = Field(description="an optional field whether to the display the vm to the end user or not.")
    rootdeviceid: int = Field(description="device ID of the root volume")
    rootdevicetype: str = Field(description="device type of the root volume")
    keypair: str | None = Field(default=None, description="ssh key-pairs")
    keypairs: str | None = Field(default=None, description="ssh key-pairs")
    groupid: str | None = Field(default=None, description="the group ID of the virtual machine")
    group: str | None = Field(default=None, description="the group name of the virtual machine")
    userdataid: str | None = Field(default=None, description="the id of userdata used for the VM")
    userdataname: str | None = Field(default=None, description="the name of userdata used for the VM")
    isoid: str | None = Field(default=None, description="the ID of the ISO attached to the virtual machine")
    isoname: str | None = Field(default=None, description="the name of the ISO attached to the virtual machine")
    isodisplaytext: str | None = Field(default=None, description="an alternate display text of the ISO attached")
    instancename: str | None = Field(default=None, description="instance name of the user vm; root admins only")
    hostid: str | None = Field(default=None, description="the ID of the host for the virtual machine")
    hostname: str | None = Field(default=None, description="the name of the host for the virtual machine")
    podid: str | None = Field(default=None, description="the ID of the pod the virtual machine is in")
    podname: str | None = Field(default=None, description="the name of the pod the virtual machine is in")
    clusterid: str | None = Field(default=None, description="the ID of the cluster the virtual machine is in")
    clustername: str | None = Field(default=None, description="the name of the cluster the virtual machine is in")
    details: dict[str, str] = Field(description="Vm details in key/value pairs.")
    nic: list[NicResponse] = Field(description="the list of nics associated with vm")
    securitygroup: list[dict[str, Any]] = Field(description="list of security groups of the virtual machine")
    affinitygroup: list[VmAffinityGroup] = Field(description="list of affinity groups of the virtual machine")
    tags: list[TagResponse] = Field(description="the list of resource tags associated")


def _vm(row: dict[str, Any]) -> VirtualMachineResponse:
    return VirtualMachineResponse.model_validate(row)


class DeployParams(BaseParams):
    """Parameters of ``deployVirtualMachine``."""

    serviceofferingid: str = param(
        "the ID of the service offering for the virtual machine", required=True, entity="ServiceOffering"
    )
    templateid: str = param("the ID of the template for the virtual machine", required=True, type="uuid")
    zoneid: str = param("availability zone for the virtual machine", required=True, entity="Zone")
    name: str | None = param("host name for the virtual machine", length=63)
    displayname: str | None = param("an optional user generated name for the virtual machine")
    networkids: list[str] | None = param("list of network ids used by virtual machine", type="list")
    iptonetworklist: list[dict[str, str]] | None = param(
        "ip to network mapping: iptonetworklist[0].ip=..&iptonetworklist[0].networkid=.."
    )
    ipaddress: str | None = param("the ip address for default vm's network")
    hostid: str | None = param("destination Host ID to deploy the VM to (root admin only)", entity="Host")
    podid: str | None = param("destination Pod ID to deploy the VM to (root admin only)", entity="Pod", since="4.13")
    clusterid: str | None = param(
        "destination Cluster ID to deploy the VM to (root admin only)", entity="Cluster", since="4.13"
    )
    diskofferingid: str | None = param(
        "the ID of the disk offering for the virtual machine's data disk", entity="DiskOffering"
    )
    size: int | None = param("the arbitrary size for the DATADISK volume, in GB; for customized disk offerings")
    rootdisksize: int | None = param("optional field to resize root disk on deploy, in GB", since="4.4")
    startvm: bool | None = param("true by default: start the VM after deploying it", since="3.0.1")
    keypair: str | None = param("name of the ssh key pair used to login to the virtual machine")
    keypairs: list[str] | None = param("names of the ssh key pairs used to login to the virtual machine", since="4.17")
    userdata: str | None = param("base64 encoded user data sent to the virtual machine", length=1048576)
    account: str | None = param("an optional account for the virtual machine; must be used with domainId")
    domainid: str | None = param("an optional domainId for the virtual machine", entity="Domain")
    projectid: str | None = param("Deploy vm for the project")
    hypervisor: str | None = param("the hypervisor on which to deploy the virtual machine")
    affinitygroupids: list[str] | None = param("comma separated list of affinity groups id", type="list")
    affinitygroupnames: list[str] | None = param("comma separated list of affinity groups names")
    securitygroupids: list[str] | None = param("comma separated list of security groups id", type="list")
    securitygroupnames: list[str] | None = param("comma separated list of security groups names")
    details: list[dict[str, str]] | None = param("used to specify the custom parameters", since="4.3")
    group: str | None = param("an optional group for the virtual machine")
    deploymentplanner: str | None = param("Deployment planner to use for vm allocation (root admin only)")
    bootmode: str | None = param("Boot Mode [Legacy] or [Secure]", since="4.14.0.0")
    boottype: str | None = param("Guest VM Boot option either custom[UEFI] or default boot [BIOS]", since="4.14.0.0")
    customid: str | None = param("an optional field, in case you want to set a custom id to the resource")


def _deploy_values(params: DeployParams) -> dict[str, Any]:
    values = params.model_dump()
    values["details"] = details_map(params.details)
    return values


@api_command(
    "deployVirtualMachine",
    params=DeployParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    create=True,
    since="1.0",
    entity_type=VM,
    description="Creates and automatically starts a virtual machine from a service offering and a template.",
)
def deploy_virtual_machine(ctx: CommandContext, params: DeployParams) -> VirtualMachineResponse:
    """Place and start the VM the create step allocated (``startvm=false`` leaves it Stopped)."""
    assert ctx.entity_id is not None
    backend = backend_of(ctx)
    start = params.startvm is not False
    where = {"podid": params.podid, "clusterid": params.clusterid, "deploymentplanner": params.deploymentplanner}
    return _vm(
        service.deploy_vm(backend.engine, ctx.caller, ctx.entity_id, start=start, host_uuid=params.hostid, where=where)
    )


@create_step("deployVirtualMachine")
def create_virtual_machine(ctx: CommandContext, params: DeployParams) -> str:
    """Allocate the VM (Stopped, NICs addressed) and answer its id with the job id."""
    return service.create(backend_of(ctx).engine, ctx.caller, _deploy_values(params))


class VmIdParams(BaseParams):
    """The id of the VM (reboot, expunge, recover, user data, password reset)."""

    id: str = param("The ID of the virtual machine", required=True, entity=VM)


class StartParams(VmIdParams):
    """Parameters of ``startVirtualMachine``."""

    hostid: str | None = param(
        "destination Host ID to deploy the VM to (root admin only)", entity="Host", since="3.0.1"
    )
    deploymentplanner: str | None = param("Deployment planner to use for vm allocation (root admin only)")


class StopParams(VmIdParams):
    """Parameters of ``stopVirtualMachine``."""

    forced: bool | None = param("Force stop the VM: power it off without asking the guest")


class DestroyParams(VmIdParams):
    """Parameters of ``destroyVirtualMachine``."""

    expunge: bool | None = param("If true is passed, the vm is expunged immediately", since="4.2.1")
    volumeids: list[str] | None = param("Comma separated list of UUIDs for volumes that will be deleted", type="list")


def _async_vm(name: str, params: type[BaseParams], description: str) -> Callable[[HandlerT], HandlerT]:
    return api_command(
        name,
        params=params,
        response=VirtualMachineResponse,
        response_key="virtualmachine",
        is_async=True,
        since="1.0",
        entity_type=VM,
        description=description,
    )


@_async_vm("startVirtualMachine", StartParams, "Starts a virtual machine.")
def start_virtual_machine(ctx: CommandContext, params: StartParams) -> VirtualMachineResponse:
    """Place (last host first) and power on a Stopped VM."""
    return _vm(service.start_vm(backend_of(ctx).engine, ctx.caller, params.id, params.hostid))


@_async_vm("stopVirtualMachine", StopParams, "Stops a virtual machine.")
def stop_virtual_machine(ctx: CommandContext, params: StopParams) -> VirtualMachineResponse:
    """Power off a Running VM (``forced``: without asking the guest)."""
    return _vm(service.stop_vm(backend_of(ctx).engine, ctx.caller, params.id, bool(params.forced)))


@_async_vm("rebootVirtualMachine", VmIdParams, "Reboots a virtual machine.")
def reboot_virtual_machine(ctx: CommandContext, params: VmIdParams) -> VirtualMachineResponse:
    """Reboot a Running VM."""
    return _vm(service.reboot_vm(backend_of(ctx).engine, ctx.caller, params.id))


@_async_vm("destroyVirtualMachine", DestroyParams, "Destroys a virtual machine.")
def destroy_virtual_machine(ctx: CommandContext, params: DestroyParams) -> VirtualMachineResponse:
    """Destroy a VM (stopping it first); ``expunge=true`` deletes it at once."""
    return _vm(service.destroy_vm(backend_of(ctx).engine, ctx.caller, params.id, bool(params.expunge)))


@api_command(
    "expungeVirtualMachine",
    params=VmIdParams,
    is_async=True,
    since="4.2.1",
    entity_type=VM,
    description="Expunge a virtual machine. Once expunged, it cannot be recoverd.",
)
def expunge_virtual_machine(ctx: CommandContext, params: VmIdParams) -> None:
    """Delete a Destroyed VM now."""
    service.expunge_vm(backend_of(ctx).engine, ctx.caller, params.id)


@api_command(
    "recoverVirtualMachine",
    params=VmIdParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    since="3.0.0",
    description="Recovers a virtual machine.",
)
def recover_virtual_machine(ctx: CommandContext, params: VmIdParams) -> VirtualMachineResponse:
    """Destroyed -> Stopped."""
    return _vm(backend_of(ctx).infrastructure.run(service.recover_vm, ctx.caller, params.id))


class UpdateParams(VmIdParams):
    """Parameters of ``updateVirtualMachine``."""

    displayname: str | None = param("user generated name")
    name: str | None = param("new host name of the vm; the VM must be stopped", since="4.13")
    group: str | None = param("group of the virtual machine")
    haenable: bool | None = param("true if high-availability is enabled for the virtual machine, false otherwise")
    ostypeid: str | None = param("the ID of the OS type that best represents this VM", type="uuid")
    userdata: str | None = param("base64 encoded user data sent to the virtual machine", length=1048576)
    displayvm: bool | None = param(
        "an optional field, whether to the display the vm to the end user or not", since="4.4"
    )
    isdynamicallyscalable: bool | None = param("true if the VM supports dynamic scaling")
    details: list[dict[str, str]] | None = param("Details in key/value pairs", since="4.12")
    cleanupdetails: bool | None = param("true to remove every detail of the VM")


@api_command(
    "updateVirtualMachine",
    params=UpdateParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    since="1.0",
    description="Updates properties of a virtual machine.",
)
def update_virtual_machine(ctx: CommandContext, params: UpdateParams) -> VirtualMachineResponse:
    """Change the VM's names, group, HA flag, OS type, user data or details."""
    values = params.model_dump()
    values["details"] = details_map(params.details) if params.details else None
    return _vm(backend_of(ctx).infrastructure.run(service.update_vm, ctx.caller, params.id, values))


class ResetKeyParams(VmIdParams):
    """Parameters of ``resetSSHKeyForVirtualMachine``."""

    keypair: str | None = param("name of the ssh key pair used to login to the virtual machine")
    keypairs: list[str] | None = param(
        "names of the ssh key pairs to be used to login to the virtual machine", since="4.17"
    )
    account: str | None = param("an optional account for the ssh key; must be used with domainId")
    domainid: str | None = param("an optional domainId for the virtual machine", entity="Domain")
    projectid: str | None = param("an optional project for the ssh key")


@_async_vm("resetSSHKeyForVirtualMachine", ResetKeyParams, "Resets the SSH Key for virtual machine.")
def reset_ssh_key(ctx: CommandContext, params: ResetKeyParams) -> VirtualMachineResponse:
    """New key pairs for a Stopped VM (installed by cloud-init at its next start)."""
    return _vm(
        backend_of(ctx).infrastructure.run(
            service.reset_ssh_keys, ctx.caller, params.id, params.keypair, params.keypairs
        )
    )


@_async_vm("resetPasswordForVirtualMachine", VmIdParams, "Resets the password for virtual machine.")
def reset_password(ctx: CommandContext, params: VmIdParams) -> VirtualMachineResponse:
    """A new password for a Stopped VM of a password-enabled template, shown once in the job result."""
    return _vm(backend_of(ctx).infrastructure.run(service.reset_password, ctx.caller, params.id))


class UserDataResponse(ResponseModel):
    """``VMUserDataResponse``."""

    virtualmachineid: str = Field(description="the ID of the virtual machine")
    userdata: str | None = Field(default=None, description="Base 64 encoded VM user data")


class UserDataParams(BaseParams):
    """Parameters of ``getVirtualMachineUserData``."""

    virtualmachineid: str = param("The ID of the virtual machine", required=True, entity=VM)


@api_command(
    "getVirtualMachineUserData",
    params=UserDataParams,
    response=UserDataResponse,
    response_key="virtualmachineuserdata",
    since="4.4",
    description="Returns user data associated with the VM",
)
def get_user_data(ctx: CommandContext, params: UserDataParams) -> UserDataResponse:
    """The VM's user data, base64 as it was given."""
    row = backend_of(ctx).infrastructure.run(service.user_data, ctx.caller, params.virtualmachineid)
    return UserDataResponse.model_validate(row)


class ListParams(ListDomainResourcesParams):
    """Parameters of ``listVirtualMachines``."""

    id: str | None = param("the ID of the virtual machine", type="uuid")
    ids: list[str] | None = param(
        "the IDs of the virtual machines, mutually exclusive with id", type="list", since="4.4"
    )
    name: str | None = param("name of the virtual machine (a case-sensitive exact match)")
    state: str | None = param("state of the virtual machine; Present lists every VM not Destroyed or Expunging")
    zoneid: str | None = param("the availability zone ID", type="uuid")
    podid: str | None = param("the pod ID", type="uuid")
    clusterid: str | None = param("the cluster ID", type="uuid")
    hostid: str | None = param("the host ID", type="uuid")
    storageid: str | None = param("the storage ID where vm's volumes belong to", type="uuid")
    templateid: str | None = param("list vms by template", type="uuid")
    serviceofferingid: str | None = param("list by the service offering", type="uuid", since="4.4")
    networkid: str | None = param("list by network id", type="uuid")
    groupid: str | None = param("the group ID", type="uuid")
    affinitygroupid: str | None = param("list vms by affinity group", type="uuid")
    userdataid: str | None = param("the ID of userdata used for the VM", type="uuid", since="4.18")
    keypair: str | None = param("list vms by ssh keypair name")
    hypervisor: str | None = param("the target hypervisor for the template")
    haenable: bool | None = param("list by the High Availability offering; true if filtering VMs with HA enabled")
    displayvm: bool | None = param("list resources by display flag; only ROOT admin is eligible to pass this parameter")
    isoid: str | None = param("list vms by iso", type="uuid")
    vpcid: str | None = param("list vms by vpc", type="uuid")
    forvirtualnetwork: bool | None = param("list by network type; true if need to list vms using Virtual Network")
    projectid: str | None = param("list objects by project; if projectid=-1 lists All VMs")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    details: list[str] | None = param(
        "comma separated list of vm details requested: all, group, nics, stats, secgrp, tmpl, servoff, ..."
    )
    accumulate: bool | None = param("Accumulates the VM metrics data", since="4.17")


#: ``details=`` values that drop nothing from a row: every listed field costs the same page of statements.
DETAILS = frozenset(
    {
        "all",
        "group",
        "nics",
        "stats",
        "secgrp",
        "tmpl",
        "servoff",
        "diskoff",
        "backoff",
        "iso",
        "volume",
        "min",
        "affgrp",
    }
)


@api_command(
    "listVirtualMachines",
    params=ListParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    list=True,
    since="1.0",
    description="List the virtual machines owned by the account.",
)
def list_virtual_machines(ctx: CommandContext, params: ListParams) -> ListResult[dict[str, Any]]:
    """List VMs; the ``nic`` array is always present, so ``details`` only checks its values."""
    for detail in params.details or ():
        if detail.strip().lower() not in DETAILS:
            raise ParamError(f"Invalid details parameter value {detail}; use one of {', '.join(sorted(DETAILS))}")
    page, pagesize = page_numbers(ctx.page)
    filters = params.model_dump(exclude={"page", "pagesize", "details", "accumulate"})
    rows, total = backend_of(ctx).infrastructure.transaction(
        lambda conn: views.list_vms(conn, ctx.caller, page=page, pagesize=pagesize, **filters)
    )
    # The service builds the rows in wire form already (tests/unit/services/compute/lifecycle checks it).
    return ListResult(rows, total)
