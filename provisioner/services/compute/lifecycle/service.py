"""The VM lifecycle as the API calls it: each function checks the caller, acts, and answers the VM's wire row.

Functions take the engine (not a connection) when they reach a hypervisor: they run several short
transactions around the driver call, never one open across it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host
from provisioner.exceptions import ParamError
from provisioner.services.common import row_by_uuid
from provisioner.services.compute.lifecycle import changes, deploy, expunge, guest_password, power, views
from provisioner.services.compute.lifecycle.access import check_expunge_recover, vm_by_uuid
from provisioner.services.principal import Caller

Row = dict[str, Any]


def _vm_id(engine: Engine, caller: Caller, uuid: str) -> int:
    return int(run_in_transaction(engine, lambda conn: vm_by_uuid(conn, caller, uuid).id))


def _vm(engine: Engine, caller: Caller, uuid: str) -> Any:
    return run_in_transaction(engine, lambda conn: vm_by_uuid(conn, caller, uuid))


def view(engine: Engine, caller: Caller, vm_id: int) -> Row:
    """The VM's wire row as the caller may see it."""
    return run_in_transaction(engine, lambda conn: views.get_vm(conn, caller, vm_id))


def create(engine: Engine, caller: Caller, params: Mapping[str, Any]) -> str:
    """``deployVirtualMachine``'s create step: the new VM's id (the VM is Stopped, its NICs addressed)."""
    return run_in_transaction(engine, lambda conn: deploy.create_vm(conn, caller, params))


def deploy_vm(
    engine: Engine,
    caller: Caller,
    uuid: str,
    *,
    start: bool = True,
    host_uuid: str | None = None,
    where: Mapping[str, Any] | None = None,
) -> Row:
    """``deployVirtualMachine``'s job: start the created VM (unless ``startvm=false``).

    ``where``: the deployment's ``podid``, ``clusterid`` and ``deploymentplanner`` (root admins).

    A deployment that cannot start is expunged (it holds nothing afterwards) and the job fails with
    533 when nothing fits, 530 with the hypervisor's reason otherwise. The VM of a password-enabled
    template gets a password (its hash goes to the seed), shown once in the result's ``password``.
    """

    def first(conn: Connection) -> tuple[Any, str | None]:
        vm = vm_by_uuid(conn, caller, uuid)
        return vm, _first_password(conn, vm)

    vm, password = run_in_transaction(engine, first)
    row = _start_deployed(engine, caller, vm, start=start, host_uuid=host_uuid, where=where)
    return {**row, "password": password} if password is not None else row


def _first_password(conn: Connection, vm: Any) -> str | None:
    return guest_password.set_new_password(conn, vm) if guest_password.template_password_enabled(conn, vm) else None


def _start_deployed(
    engine: Engine, caller: Caller, vm: Any, *, start: bool, host_uuid: str | None, where: Mapping[str, Any] | None
) -> Row:
    if start:
        host_id = _host_id(engine, caller, host_uuid) if host_uuid else None
        hints = None
        if where and any(where.values()):
            hints = run_in_transaction(engine, lambda conn: deploy.placement_hints(conn, caller, vm.zone_id, where))
        started = power.start(
            engine,
            vm.id,
            vm.zone_id,
            host_id=host_id,
            is_root_admin=caller.is_root_admin,
            on_failure=expunge.fail_deployment,
            answer=lambda conn: views.get_vm(conn, caller, vm.id),
            hints=hints,
        )
        if started is not None:
            return started
    return view(engine, caller, vm.id)


def _host_id(engine: Engine, caller: Caller, host_uuid: str) -> int:
    if not caller.is_root_admin:
        raise ParamError("Only root administrators may choose the host (hostid) a VM starts on")
    return int(run_in_transaction(engine, lambda conn: row_by_uuid(conn, host, host_uuid, "host").id))


def start_vm(engine: Engine, caller: Caller, uuid: str, host_uuid: str | None = None) -> Row:
    """``startVirtualMachine``.

    Raises:
        ParamError: the VM is already running, or not Stopped (431).
    """
    vm = _vm(engine, caller, uuid)
    host_id = _host_id(engine, caller, host_uuid) if host_uuid else None
    if vm.state == VMState.RUNNING.value:
        raise ParamError(f"The virtual machine {uuid} is already running")
    started = power.start(
        engine,
        vm.id,
        vm.zone_id,
        host_id=host_id,
        is_root_admin=caller.is_root_admin,
        answer=lambda conn: views.get_vm(conn, caller, vm.id),
    )
    return started if started is not None else view(engine, caller, vm.id)


def stop_vm(engine: Engine, caller: Caller, uuid: str, forced: bool = False) -> Row:
    """``stopVirtualMachine`` (``forced`` powers off without asking the guest)."""
    vm_id = _vm_id(engine, caller, uuid)
    power.stop(engine, vm_id, forced=forced)
    return view(engine, caller, vm_id)


def reboot_vm(engine: Engine, caller: Caller, uuid: str) -> Row:
    """``rebootVirtualMachine``."""
    vm_id = _vm_id(engine, caller, uuid)
    power.reboot(engine, vm_id)
    return view(engine, caller, vm_id)


def destroy_vm(engine: Engine, caller: Caller, uuid: str, expunge_now: bool = False) -> Row:
    """``destroyVirtualMachine``: Destroyed (kept ``expunge.delay`` seconds), or expunged at once."""

    def check(conn: Connection) -> int:
        vm = vm_by_uuid(conn, caller, uuid)
        if expunge_now:
            check_expunge_recover(conn, caller, vm, "expunge")
        return int(vm.id)

    vm_id = run_in_transaction(engine, check)
    expunge.destroy(engine, vm_id, expunge=expunge_now)
    return view(engine, caller, vm_id)


def expunge_vm(engine: Engine, caller: Caller, uuid: str) -> None:
    """``expungeVirtualMachine``: a Destroyed (or Error) VM is deleted now.

    Raises:
        ParamError: the VM is not Destroyed or Error (431).
    """

    def check(conn: Connection) -> int:
        vm = vm_by_uuid(conn, caller, uuid)
        check_expunge_recover(conn, caller, vm, "expunge")
        if vm.state not in (VMState.DESTROYED.value, VMState.ERROR.value):
            raise ParamError(f"Please destroy VM {vm.name} before expunging it; it is {vm.state}")
        return int(vm.id)

    expunge.expunge_vm(engine, run_in_transaction(engine, check))


def recover_vm(conn: Connection, caller: Caller, uuid: str) -> Row:
    """``recoverVirtualMachine``: Destroyed -> Stopped."""
    vm = vm_by_uuid(conn, caller, uuid)
    check_expunge_recover(conn, caller, vm, "recover")
    expunge.recover(conn, vm.id)
    return views.get_vm(conn, caller, vm.id)


def update_vm(conn: Connection, caller: Caller, uuid: str, params: Mapping[str, Any]) -> Row:
    """``updateVirtualMachine``."""
    vm = vm_by_uuid(conn, caller, uuid)
    changes.update_vm(conn, vm, params)
    return views.get_vm(conn, caller, vm.id)


def reset_ssh_keys(conn: Connection, caller: Caller, uuid: str, keypair: str | None, keypairs: list[str] | None) -> Row:
    """``resetSSHKeyForVirtualMachine``."""
    vm = vm_by_uuid(conn, caller, uuid)
    changes.reset_ssh_keys(conn, vm, keypair, keypairs)
    return views.get_vm(conn, caller, vm.id)


def reset_password(conn: Connection, caller: Caller, uuid: str) -> Row:
    """``resetPasswordForVirtualMachine``: the VM's row with the new ``password``."""
    vm = vm_by_uuid(conn, caller, uuid)
    password = changes.new_password(conn, vm)
    return {**views.get_vm(conn, caller, vm.id), "password": password}


def user_data(conn: Connection, caller: Caller, uuid: str) -> Row:
    """``getVirtualMachineUserData``."""
    vm = vm_by_uuid(conn, caller, uuid)
    return {"virtualmachineid": vm.uuid, "userdata": changes.user_data_of(conn, vm)}
