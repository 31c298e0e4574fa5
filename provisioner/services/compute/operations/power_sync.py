"""VM power-state sync: what a hypervisor reports wins over what the database believes (CloudStack's VM sync).

A VM the database holds as Running that the host reports stopped, or no longer reports at all, was
stopped or destroyed behind our back: it moves to Stopped with power state ``PowerOff`` and its
capacity is released. A Stopped VM the host reports running was started behind our back: it moves
to Running there and its capacity is counted. VMs a job is changing are left alone: the rows are read
before the hypervisor is asked (:func:`known_vms`) and a change applies only while the row's
``update_count`` is still the one read (:func:`apply_report`), as CloudStack only follows power reports
for VMs without pending work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, or_, select, update

from provisioner.compute.types import PowerState, VMInfo, VMState
from provisioner.db.schema import utcnow, vm_instance
from provisioner.services.compute.transitions import report_power

T = TypeVar("T")
#: Chunk of ids per ``IN (…)`` list (SQLite allows 32,766 parameters; PostgreSQL plans short lists better).
CHUNK = 1000
#: Hypervisor states that mean the guest is not running.
OFF_STATES = frozenset({VMState.STOPPED, VMState.SHUTDOWN, VMState.DESTROYED})


@dataclass(frozen=True, slots=True)
class KnownVm:
    """A VM row as read before the hypervisor was asked."""

    id: int
    instance_name: str
    state: str
    power_state: str
    update_count: int
    host_id: int | None


@dataclass(frozen=True, slots=True)
class PowerChange:
    """One VM the sync moved: its instance name, the states before and after, and why."""

    instance_name: str
    old: str
    new: str
    reason: str


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_vms(conn: Connection, host_ids: Sequence[int]) -> dict[int, list[KnownVm]]:
    """Per host: its Running VMs, and the Stopped VMs that last ran there (they may be started behind our back)."""
    found: dict[int, list[KnownVm]] = {h: [] for h in host_ids}
    columns = (
        vm_instance.c.id,
        vm_instance.c.instance_name,
        vm_instance.c.state,
        vm_instance.c.power_state,
        vm_instance.c.update_count,
        vm_instance.c.host_id,
        vm_instance.c.last_host_id,
    )
    for part in chunks(list(host_ids)):
        rows = conn.execute(
            select(*columns).where(
                vm_instance.c.removed.is_(None),
                or_(
                    (vm_instance.c.state == VMState.RUNNING.value) & vm_instance.c.host_id.in_(part),
                    (vm_instance.c.state == VMState.STOPPED.value) & vm_instance.c.last_host_id.in_(part),
                ),
            )
        )
        for r in rows:
            where = r.host_id if r.state == VMState.RUNNING.value else r.last_host_id
            found[int(where)].append(
                KnownVm(int(r.id), r.instance_name, r.state, r.power_state, int(r.update_count), r.host_id)
            )
    return found


def _unchanged(conn: Connection, vm: KnownVm) -> bool:
    seen = conn.execute(
        select(vm_instance.c.update_count).where(vm_instance.c.id == vm.id, vm_instance.c.removed.is_(None))
    ).scalar()
    return seen is not None and int(seen) == vm.update_count


def apply_report(
    conn: Connection, host_id: int, known: Sequence[KnownVm], observed: Iterable[VMInfo]
) -> list[PowerChange]:
    """Follow one host's report for the VMs in ``known``, inside the caller's transaction.

    Returns:
        The VMs whose state changed; a VM changed by a job since :func:`known_vms` read it is skipped.
    """
    seen: Mapping[str, VMInfo] = {info.name: info for info in observed}
    changes: list[PowerChange] = []
    confirmed: list[int] = []
    for vm in known:
        info = seen.get(vm.instance_name)
        running = info is not None and info.state not in OFF_STATES
        if vm.state == VMState.RUNNING.value and not running:
            why = "vanished from the hypervisor" if info is None else f"reported {info.state} by the hypervisor"
            if _unchanged(conn, vm):
                report_power(conn, vm.id, PowerState.POWER_OFF)
                changes.append(PowerChange(vm.instance_name, vm.state, VMState.STOPPED.value, why))
        elif vm.state == VMState.STOPPED.value and running:
            if _unchanged(conn, vm):
                report_power(conn, vm.id, PowerState.POWER_ON, host_id)
                changes.append(PowerChange(vm.instance_name, vm.state, VMState.RUNNING.value, "running on the host"))
        elif running and vm.power_state != PowerState.POWER_ON.value:
            confirmed.append(vm.id)
    if confirmed:
        conn.execute(
            update(vm_instance)
            .where(vm_instance.c.id.in_(confirmed))
            .values(power_state=PowerState.POWER_ON.value, power_state_updated=utcnow())
        )
    return changes


def stop_vms_of_down_host(conn: Connection, host_id: int) -> list[PowerChange]:
    """A host found Down: its Running VMs are Stopped (PowerOff) and release its capacity, as CloudStack does
    for VMs without HA, so they can be started elsewhere."""
    rows = conn.execute(
        select(vm_instance.c.id, vm_instance.c.instance_name).where(
            vm_instance.c.host_id == host_id,
            vm_instance.c.state == VMState.RUNNING.value,
            vm_instance.c.removed.is_(None),
        )
    ).all()
    for r in rows:
        report_power(conn, int(r.id), PowerState.POWER_OFF)
    return [PowerChange(r.instance_name, VMState.RUNNING.value, VMState.STOPPED.value, "host is Down") for r in rows]
