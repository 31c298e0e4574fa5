"""VM state transitions with their capacity effects, each one optimistic and inside the caller's transaction.

A transition is ``UPDATE vm_instance SET state = :to, update_count = update_count + 1 WHERE id = :id
AND state = :from AND update_count = :seen``: of two concurrent changes one wins and the other
fails clearly instead of overwriting it. Leaving a holding state releases the host's CPU and
memory (CloudStack releases them on stop); expunging releases pools, IPs and MACs.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from provisioner.compute.types import PowerState, VMState
from provisioner.db.schema import (
    affinity_group_vm_map,
    disk_offering,
    service_offering,
    storage_pool,
    utcnow,
    vm_instance,
    volume,
)
from provisioner.exceptions import InternalError, ParamError
from provisioner.services.compute import ipam, macs
from provisioner.services.compute.allocator import (
    DeploymentRequest,
    Placement,
    PlannerSettings,
    Snapshot,
    VolumeRequest,
    allocate,
    release_host,
    release_pool,
)
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.settings import planner_settings
from provisioner.services.compute.states import HOLDS_HOST, VMEvent, VolumeState, next_vm_state
from provisioner.services.compute.vms import affinity_hosts, split_tags, vm_row
from provisioner.services.infrastructure.capacity import adjust_host_allocation


def _release(conn: Connection, vm: Any) -> None:
    release_host(conn, vm.host_id, vm.cpu_number * vm.cpu_speed, vm.cpu_number, vm.memory * MIB)


#: Built once (the new values come as execution parameters): every state change of every VM runs it.
_TRANSITION = (
    update(vm_instance)
    .where(
        vm_instance.c.id == bindparam("vm"),
        vm_instance.c.state == bindparam("seen_state"),
        vm_instance.c.update_count == bindparam("seen_count"),
    )
    .values(update_count=vm_instance.c.update_count + 1, update_time=bindparam("update_time", callable_=utcnow))
)


def transition(conn: Connection, vm_id: int, event: VMEvent, *, current_row: Any = None, **values: Any) -> VMState:
    """Move a VM along ``event`` (§9), releasing host capacity when it leaves a holding state.

    Args:
        conn: a connection inside a transaction.
        vm_id: the VM's internal id.
        event: what happened.
        current_row: the VM's row as read earlier in this transaction (saves reading it again), or None.
        values: further columns to set with the new state (``host_id``, ``power_state``, …).

    Returns:
        The new state.

    Raises:
        ParamError: the transition does not exist from the VM's state (431).
        InternalError: another operation changed the VM since it was read (530).
    """
    vm = current_row if current_row is not None else vm_row(conn, vm_id)
    current = VMState(vm.state)
    target = next_vm_state(vm.name, current, event)
    releasing = current in HOLDS_HOST and target not in HOLDS_HOST and vm.host_id is not None
    if releasing:
        values = {"host_id": None, "last_host_id": vm.host_id, **values}
    changed = conn.execute(
        _TRANSITION,
        {"vm": vm_id, "seen_state": vm.state, "seen_count": vm.update_count, "state": target.value, **values},
    ).rowcount
    if changed != 1:
        raise InternalError(f"VM {vm.name} was changed by another operation while in state {vm.state}; try again")
    if releasing:
        _release(conn, vm)
    return target


def _group_ids(conn: Connection, vm_id: int) -> tuple[int, ...]:
    query = select(affinity_group_vm_map.c.affinity_group_id).where(affinity_group_vm_map.c.vm_id == vm_id)
    return tuple(int(g) for g in conn.execute(query).scalars())


def _volume_request(conn: Connection, vol: Any, offering: Any) -> VolumeRequest:
    """What an unplaced volume asks of a pool: its disk offering's tags, else the service offering's."""
    tags, storage_type = offering.storage_tags, offering.storage_type
    if vol.disk_offering_id is not None:
        disk = conn.execute(
            select(disk_offering.c.tags, disk_offering.c.storage_type).where(disk_offering.c.id == vol.disk_offering_id)
        ).one()
        tags, storage_type = disk.tags, disk.storage_type
    return VolumeRequest(vol.name, vol.size, split_tags(tags), storage_type == "local")


# Built once (every start runs them): building a statement costs more than running it.
_OFFERING = select(service_offering).where(service_offering.c.id == bindparam("offering"))
_VOLUMES = (
    select(volume).where(volume.c.vm_id == bindparam("vm_id"), volume.c.removed.is_(None)).order_by(volume.c.device_id)
)


def _start_request(
    conn: Connection,
    vm: Any,
    is_root_admin: bool,
    host_id: int | None,
    *,
    exclude_hosts: frozenset[int] = frozenset(),
    hints: tuple[int | None, int | None] = (None, None),
) -> tuple[DeploymentRequest, list[Any]]:
    """The deployment request of a stopped VM: its sizes, tags, last host and unplaced volumes."""
    offering = conn.execute(_OFFERING, {"offering": vm.service_offering_id}).one()
    vols = conn.execute(_VOLUMES, {"vm_id": vm.id}).all()
    unplaced = [v for v in vols if v.pool_id is None]
    pod_id, cluster_id = hints
    for v in vols:
        if v.pool_id is not None:
            # A placed volume ties the VM to hosts that reach its pool.
            pool = conn.execute(
                select(storage_pool.c.scope, storage_pool.c.cluster_id, storage_pool.c.host_id).where(
                    storage_pool.c.id == v.pool_id
                )
            ).one()
            if pool.scope == "HOST":
                host_id = host_id or pool.host_id
            elif pool.scope == "CLUSTER":
                cluster_id = pool.cluster_id
    avoid, required = affinity_hosts(conn, _group_ids(conn, vm.id))
    request = DeploymentRequest(
        zone_id=vm.zone_id,
        cpu_number=vm.cpu_number,
        cpu_speed=vm.cpu_speed,
        memory_mib=vm.memory,
        account_id=vm.account_id,
        host_tags=split_tags(offering.host_tags),
        hypervisor=vm.hypervisor_type,
        volumes=tuple(_volume_request(conn, v, offering) for v in unplaced),
        pod_id=pod_id,
        cluster_id=cluster_id,
        host_id=host_id,
        last_host_id=vm.last_host_id,
        avoid_hosts=avoid | exclude_hosts,
        affinity_hosts=required,
        is_root_admin=is_root_admin,
    )
    return request, unplaced


def start_vm(
    conn: Connection,
    vm_id: int,
    *,
    settings: PlannerSettings | None = None,
    host_id: int | None = None,
    is_root_admin: bool = False,
    rng: random.Random | None = None,
    snapshot: Snapshot | None = None,
    exclude_hosts: frozenset[int] = frozenset(),
    pod_id: int | None = None,
    cluster_id: int | None = None,
) -> Placement:
    """Stopped -> Starting: place the VM (last host first) and reserve its capacity.

    ``snapshot``: a zone snapshot read beforehand (see ``allocate``), else one is read here.
    ``exclude_hosts``: hosts the VM just failed to start on (the retry goes elsewhere).
    ``pod_id``/``cluster_id``: where a root admin asked it to go (``podid``/``clusterid``).

    Raises:
        ParamError: the VM is not Stopped (431).
        InsufficientCapacityError: nothing fits (533).
    """
    vm = vm_row(conn, vm_id)
    next_vm_state(vm.name, VMState(vm.state), VMEvent.START_REQUESTED)  # reject before planning
    request, unplaced = _start_request(
        conn, vm, is_root_admin, host_id, exclude_hosts=exclude_hosts, hints=(pod_id, cluster_id)
    )
    if settings is None:
        planner = conn.execute(
            select(service_offering.c.deployment_planner).where(service_offering.c.id == vm.service_offering_id)
        ).scalar_one()
        settings = planner_settings(conn, planner)
    placement = allocate(conn, request, settings, rng=rng, snapshot=snapshot)
    for v, pool_id in zip(unplaced, placement.pool_ids, strict=True):
        conn.execute(update(volume).where(volume.c.id == v.id).values(pool_id=pool_id))
    transition(
        conn,
        vm_id,
        VMEvent.START_REQUESTED,
        current_row=vm,  # only volumes changed since it was read
        host_id=placement.host_id,
        pod_id=placement.pod_id,
        cluster_id=placement.cluster_id,
    )
    return placement


def report_power(conn: Connection, vm_id: int, power: PowerState, host_id: int | None = None) -> VMState:
    """Follow a hypervisor power report: PowerOn makes the VM Running (on ``host_id``), PowerOff Stopped.

    A VM found running on a host it held nothing on gets its capacity counted there, unconditionally:
    it does run there, and the counters must say so.
    """
    vm = vm_row(conn, vm_id)
    now = utcnow()
    if power not in (PowerState.POWER_ON, PowerState.POWER_OFF):
        conn.execute(
            update(vm_instance)
            .where(vm_instance.c.id == vm_id)
            .values(power_state=power.value, power_state_updated=now)
        )
        return VMState(vm.state)
    event = VMEvent.POWER_ON_REPORT if power == PowerState.POWER_ON else VMEvent.POWER_OFF_REPORT
    values: dict[str, Any] = {"power_state": power.value, "power_state_updated": now}
    gaining = power == PowerState.POWER_ON and VMState(vm.state) not in HOLDS_HOST
    if gaining:
        values["host_id"] = host_id if host_id is not None else vm.last_host_id
    state = transition(conn, vm_id, event, **values)
    if gaining and values["host_id"] is not None:
        adjust_host_allocation(
            conn, values["host_id"], cpu_mhz=vm.cpu_number * vm.cpu_speed, cores=vm.cpu_number, memory=vm.memory * MIB
        )
    return state


def destroy_vm(conn: Connection, vm_id: int) -> VMState:
    """Stopped or Error -> Destroyed; its volumes go to Destroy (they keep their pool until expunged)."""
    state = transition(conn, vm_id, VMEvent.DESTROY_REQUESTED)
    conn.execute(
        update(volume)
        .where(volume.c.vm_id == vm_id, volume.c.removed.is_(None), volume.c.volume_type == "ROOT")
        .values(state=VolumeState.DESTROY.value, update_count=volume.c.update_count + 1)
    )
    return state


def recover_vm(conn: Connection, vm_id: int) -> VMState:
    """Destroyed -> Stopped; its ROOT volume comes back (Ready once created, else Allocated)."""
    state = transition(conn, vm_id, VMEvent.RECOVERY_REQUESTED)
    for v in conn.execute(
        select(volume.c.id, volume.c.path).where(volume.c.vm_id == vm_id, volume.c.state == VolumeState.DESTROY.value)
    ).all():
        back = VolumeState.READY if v.path else VolumeState.ALLOCATED
        conn.execute(
            update(volume).where(volume.c.id == v.id).values(state=back.value, update_count=volume.c.update_count + 1)
        )
    return state


def begin_expunge(conn: Connection, vm_id: int) -> VMState:
    """Destroyed or Error -> Expunging (the driver then deletes the VM and its disks)."""
    return transition(conn, vm_id, VMEvent.EXPUNGE_OPERATION)


def finish_expunge(conn: Connection, vm_id: int) -> None:
    """Expunging -> removed: volumes expunged and their pool bytes released, IPs and MACs freed.

    Raises:
        ParamError: the VM is not Expunging (431).
    """
    vm = vm_row(conn, vm_id)
    if vm.state != VMState.EXPUNGING.value:
        raise ParamError(f"Unable to expunge VM {vm.name} in state {vm.state}; it must be Expunging")
    now = utcnow()
    for v in conn.execute(
        select(volume.c.id, volume.c.pool_id, volume.c.size, volume.c.volume_type).where(
            volume.c.vm_id == vm_id, volume.c.removed.is_(None)
        )
    ).all():
        if v.volume_type != "ROOT":
            continue  # data disks are detached, not deleted, with their VM
        if v.pool_id is not None:
            release_pool(conn, v.pool_id, v.size)
        conn.execute(
            update(volume)
            .where(volume.c.id == v.id)
            .values(state=VolumeState.EXPUNGED.value, removed=now, update_count=volume.c.update_count + 1)
        )
    conn.execute(
        update(volume).where(volume.c.vm_id == vm_id, volume.c.removed.is_(None)).values(vm_id=None, device_id=None)
    )
    ipam.release_vm_ips(conn, vm_id)
    macs.release_vm_nics(conn, vm_id)
    changed = conn.execute(
        update(vm_instance)
        .where(vm_instance.c.id == vm_id, vm_instance.c.update_count == vm.update_count)
        .values(removed=now, update_count=vm_instance.c.update_count + 1, update_time=now)
    ).rowcount
    if changed != 1:
        raise InternalError(f"VM {vm.name} was changed by another operation while expunging; try again")
