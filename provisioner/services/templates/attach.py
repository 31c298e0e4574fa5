"""``attachIso`` / ``detachIso``: the ISO in a VM's CD-ROM drive (``vm_iso``), and on a running VM the drive itself.

The checks and the record are short transactions; the hypervisor is reached through
:func:`open_host_driver` with no transaction open. A running VM gets the ISO inserted (or ejected)
first and the record follows; a stopped VM only gets the record (its next start uses it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, vm_iso, vm_template
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle.access import vm_by_uuid
from provisioner.services.principal import Caller
from provisioner.services.templates.deploy import template_for_deploy

#: VM states in which the drive may change (CloudStack: Running or Stopped).
ATTACHABLE = ("Running", "Stopped")


def attached_iso(conn: Connection, vm_id: int) -> Any:
    """The ISO attached to a VM (``vm_template`` row), or None."""
    return (
        conn.execute(
            select(vm_template).join(vm_iso, vm_iso.c.template_id == vm_template.c.id).where(vm_iso.c.vm_id == vm_id)
        )
        .mappings()
        .first()
    )


def _host_row(conn: Connection, host_id: int | None) -> Any:
    if host_id is None:
        return None
    return conn.execute(select(host).where(host.c.id == host_id)).mappings().first()


def attach_iso(engine: Engine, caller: Caller, iso_uuid: str, vm_uuid: str) -> int:
    """Attach an ISO (Ready in the VM's zone, usable by the caller) to a VM; returns the VM's internal id.

    Raises:
        ParamError: unknown VM or ISO, not an ISO, not ready in the VM's zone, the VM is not Running or
            Stopped, or it already has an ISO (431).
        PermissionDeniedError: the VM or ISO is not the caller's to use (531).
        InternalError: the hypervisor refused (530).
    """

    def check(conn: Connection) -> tuple[Any, Any, Any]:
        vm = vm_by_uuid(conn, caller, vm_uuid)
        iso = template_for_deploy(conn, caller, iso_uuid, vm.zone_id)
        if not iso.is_iso:
            raise ParamError(f"Invalid ISO id {iso_uuid}: {iso.name} is a template, not an ISO")
        if vm.state not in ATTACHABLE:
            raise ParamError(f"Unable to attach ISO to VM {vm.name}: it is {vm.state}, not Running or Stopped")
        if attached_iso(conn, vm.id) is not None:
            raise ParamError(f"VM {vm.name} already has an ISO attached; detach it first")
        return vm, iso, _host_row(conn, vm.host_id)

    vm, iso, host_row = run_in_transaction(engine, check)
    if vm.state == "Running" and host_row is not None:
        try:
            with open_host_driver(host_row) as driver:
                driver.attach_iso(vm.instance_name, iso.install_url)
        except Exception as error:
            raise InternalError(f"Failed to attach ISO {iso.name} to VM {vm.name}: {error}") from error

    def record(conn: Connection) -> None:
        if attached_iso(conn, vm.id) is not None:
            raise ParamError(f"VM {vm.name} already has an ISO attached; detach it first")
        conn.execute(insert(vm_iso).values(vm_id=vm.id, template_id=iso.id))

    run_in_transaction(engine, record)
    return int(vm.id)


def detach_iso(engine: Engine, caller: Caller, vm_uuid: str) -> int:
    """Eject the VM's ISO; returns the VM's internal id.

    Raises:
        ParamError: unknown VM, no ISO attached, or the VM is not Running or Stopped (431).
        InternalError: the hypervisor refused (530).
    """

    def check(conn: Connection) -> tuple[Any, Any]:
        vm = vm_by_uuid(conn, caller, vm_uuid)
        if attached_iso(conn, vm.id) is None:
            raise ParamError(f"Unable to detach ISO: VM {vm.name} has no ISO attached")
        if vm.state not in ATTACHABLE:
            raise ParamError(f"Unable to detach ISO from VM {vm.name}: it is {vm.state}, not Running or Stopped")
        return vm, _host_row(conn, vm.host_id)

    vm, host_row = run_in_transaction(engine, check)
    if vm.state == "Running" and host_row is not None:
        try:
            with open_host_driver(host_row) as driver:
                driver.detach_iso(vm.instance_name)
        except Exception as error:
            raise InternalError(f"Failed to detach the ISO from VM {vm.name}: {error}") from error
    run_in_transaction(engine, lambda conn: conn.execute(delete(vm_iso).where(vm_iso.c.vm_id == vm.id)))
    return int(vm.id)
