"""Scaling (``scaleVirtualMachine``, ``changeServiceForVirtualMachine``): a new offering's CPU and memory.

A Stopped VM holds no host capacity: its row takes the new offering, and a domain still defined on its
last host is resized there (a later start uses it as it is). A Running VM is scaled in place, and only
up (CloudStack's rule): in one transaction its old share is released and the new one reserved through
the allocator on the same host, so the host's limits and the cluster's thresholds are checked against
what the VM will hold and no concurrent deployment can slip in between; then the driver resizes it, and
if the driver fails the old share and offering are put back. Drivers without live scaling get
CloudStack's error.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from provisioner.compute.registry import get_driver
from provisioner.compute.types import Features, VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import service_offering, utcnow, vm_instance
from provisioner.exceptions import InternalError, ParamError, PermissionDeniedError, VMNotFoundError, VMStateError
from provisioner.services.compute.allocator import DeploymentRequest, PlannerSettings, allocate, release_host
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle.scaling import (
    ENABLE_DYNAMIC_SCALE,
    dynamic_scaling_enabled,
    dynamically_scalable,
)
from provisioner.services.compute.operations.migrate import host_by_id
from provisioner.services.compute.vms import split_tags, vm_row
from provisioner.services.infrastructure.capacity import adjust_host_allocation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Size:
    """What a VM gets from its offering: vCPUs, MHz each, memory in MiB."""

    offering_id: int
    cpu_number: int
    cpu_speed: int
    memory: int

    @property
    def share(self) -> tuple[int, int, int]:
        """(MHz, cores, bytes) the VM holds on its host at this size."""
        return self.cpu_number * self.cpu_speed, self.cpu_number, self.memory * MIB


def _current(vm: Any) -> Size:
    return Size(int(vm.service_offering_id), int(vm.cpu_number), int(vm.cpu_speed), int(vm.memory))


def new_size(conn: Connection, vm: Any, offering_id: int, details: dict[str, str]) -> tuple[Size, Any]:
    """The VM's size under ``offering_id`` (``cpuNumber``/``cpuSpeed``/``memory`` details for customised ones).

    Raises:
        ParamError: the offering is unknown, is the VM's own, or a customised value is missing (431).
    """
    offering = conn.execute(
        select(service_offering).where(service_offering.c.id == offering_id, service_offering.c.removed.is_(None))
    ).first()
    if offering is None:
        raise ParamError(f"Unable to find service offering by id {offering_id}")
    if offering.id == vm.service_offering_id and not details:
        raise ParamError(
            f"Not upgrading vm {vm.name} since it already has the requested service offering ({offering.name})"
        )

    def pick(fixed: int | None, key: str) -> int:
        if fixed:
            return int(fixed)
        value = details.get(key)
        if value is None or not str(value).isdigit() or int(value) <= 0:
            raise ParamError(
                f"Service offering {offering.name} is customised: pass details[0].{key} (a positive number)"
            )
        return int(value)

    size = Size(
        int(offering.id),
        pick(offering.cpu_number, "cpuNumber"),
        pick(offering.cpu_speed, "cpuSpeed"),
        pick(offering.memory, "memory"),
    )
    return size, offering


def _write(conn: Connection, vm_id: int, size: Size) -> None:
    conn.execute(
        update(vm_instance)
        .where(vm_instance.c.id == vm_id)
        .values(
            service_offering_id=size.offering_id,
            cpu_number=size.cpu_number,
            cpu_speed=size.cpu_speed,
            memory=size.memory,
            update_count=vm_instance.c.update_count + 1,
            update_time=utcnow(),
        )
    )


def _reserve_in_place(conn: Connection, vm: Any, old: Size, new: Size, offering: Any) -> None:
    """Move the VM's share on its host from ``old`` to ``new`` atomically (533 when the new one does not fit)."""
    release_host(conn, vm.host_id, *old.share)
    request = DeploymentRequest(
        zone_id=vm.zone_id,
        cpu_number=new.cpu_number,
        cpu_speed=new.cpu_speed,
        memory_mib=new.memory,
        account_id=vm.account_id,
        host_tags=split_tags(offering.host_tags),
        hypervisor=vm.hypervisor_type,
        host_id=vm.host_id,
        is_root_admin=True,
    )
    allocate(conn, request, PlannerSettings(algorithm="firstfit"))


def _begin(
    conn: Connection, vm_id: int, offering_id: int, details: dict[str, str], running_ok: bool
) -> tuple[Any, Size, Size, Any]:
    vm = vm_row(conn, vm_id)
    new, offering = new_size(conn, vm, offering_id, details)
    old = _current(vm)
    if vm.state == VMState.STOPPED.value:
        _write(conn, vm_id, new)
        return vm, old, new, host_by_id(conn, vm.last_host_id) if vm.last_host_id else None
    if vm.state != VMState.RUNNING.value or not running_ok:
        raise ParamError(
            f"Unable to upgrade virtual machine {vm.name} in state {vm.state}; "
            + ("make sure the virtual machine is stopped/running" if running_ok else "stop it first")
        )
    if new.cpu_number < old.cpu_number or new.cpu_speed < old.cpu_speed or new.memory < old.memory or new == old:
        raise ParamError(
            "Only scaling up the vm is supported, new service offering"
            f"(speed={new.cpu_speed}, cpu={new.cpu_number}, memory={new.memory}) should have at least one value"
            f"(cpu/ram) greater than old value and no resource value less than older"
            f"(speed={old.cpu_speed}, cpu={old.cpu_number}, memory={old.memory})"
        )
    if not dynamic_scaling_enabled(conn, vm.zone_id):
        raise PermissionDeniedError(
            "Dynamically scaling virtual machines is disabled for this zone, please contact your admin: set "
            f"{ENABLE_DYNAMIC_SCALE} to true (updateConfiguration, globally or for the zone) and start VM {vm.name} "
            "again (it gets room to grow when it starts, if its template is dynamically scalable), or stop it and "
            "scale it stopped"
        )
    source = host_by_id(conn, vm.host_id)
    if Features.SCALE not in get_driver(source["driver"]).features:
        raise ParamError(
            f"Unable to scale VM {vm.name}: the {source['driver']} driver of host {source['name']} cannot "
            "scale a running VM; stop it and scale it stopped"
        )
    _reserve_in_place(conn, vm, old, new, offering)
    _write(conn, vm_id, new)
    return vm, old, new, source


def _undo(conn: Connection, vm: Any, old: Size, new: Size) -> None:
    release_host(conn, vm.host_id, *new.share)
    adjust_host_allocation(conn, vm.host_id, cpu_mhz=old.share[0], cores=old.share[1], memory=old.share[2])
    _write(conn, vm.id, old)


def scale(
    engine: Engine, vm_id: int, offering_id: int, *, details: dict[str, str] | None = None, running_ok: bool = True
) -> None:
    """Give a VM another service offering's size.

    Args:
        engine: the database.
        vm_id: the VM.
        offering_id: the new service offering.
        details: ``cpuNumber``, ``cpuSpeed`` and ``memory`` for a customised offering.
        running_ok: scale a Running VM live (``scaleVirtualMachine``); False refuses it
            (``changeServiceForVirtualMachine``).

    Raises:
        ParamError: a state, offering or driver that does not allow it (431).
        InsufficientCapacityError: the VM's host cannot hold the new size (533).
        InternalError: the hypervisor failed; the old size is back (530).
    """
    vm, old, new, where = run_in_transaction(
        engine, lambda conn: _begin(conn, vm_id, offering_id, dict(details or {}), running_ok)
    )
    if where is None:
        return
    running = vm.state == VMState.RUNNING.value
    try:
        with open_host_driver(where) as driver:
            driver.scale_vm(vm.instance_name, vcpus=new.cpu_number, memory_bytes=new.memory * MIB)
    except VMNotFoundError:
        if running:  # gone behind our back: the power sync will stop it; keep the books as they were
            run_in_transaction(engine, lambda conn: _undo(conn, vm, old, new))
            raise InternalError(f"Unable to scale VM {vm.name}: it is not on host {where['name']}") from None
        # A stopped VM not defined on its last host gets its new size when it next starts.
    except VMStateError as exc:  # no room to grow into: defined without maxima, or past them
        run_in_transaction(engine, lambda conn: _undo(conn, vm, old, new) if running else _write(conn, vm.id, old))
        with engine.connect() as conn:
            scalable = dynamically_scalable(conn, vm.template_id)
        if scalable:
            raise ParamError(f"Unable to scale the VM {vm.uuid} live: {exc}") from None
        raise ParamError(
            f"Unable to scale the VM {vm.uuid} as VM is not configured to be dynamically scalable: {exc}"
        ) from None
    except Exception as exc:
        if not running:
            log.warning("resizing stopped VM %s on host %s failed: %s", vm.instance_name, where["name"], exc)
            with contextlib.suppress(Exception):
                run_in_transaction(engine, lambda conn: _write(conn, vm.id, old))
        else:
            run_in_transaction(engine, lambda conn: _undo(conn, vm, old, new))
        raise InternalError(f"Unable to scale VM {vm.name} ({vm.uuid}) on host {where['name']}: {exc}") from None
