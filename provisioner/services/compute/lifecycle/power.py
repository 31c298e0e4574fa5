"""Start, stop and reboot: a transaction moves the state, the driver acts outside it, a transaction ends it.

Every step that fails puts the VM back in a stable state with the capacity it holds accounted for
(``transitions.transition`` releases a host's share when the VM stops holding it), and the job ends
with the error: 533 when nothing fits, 530 naming the VM, the host and the hypervisor's reason.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select, update

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.types import Features, PowerState, VMSpec, VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import guest_network, nic, utcnow, volume
from provisioner.exceptions import (
    ApiError,
    InsufficientCapacityError,
    InternalError,
    ParamError,
    VMExistsError,
    VMNotFoundError,
)
from provisioner.services.compute import transitions
from provisioner.services.compute.allocator import Placement, Snapshot, release_pool
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle import base_images, host_disks, placement
from provisioner.services.compute.lifecycle.specs import DriverPlan, driver_plan, host_row
from provisioner.services.compute.states import VMEvent, VolumeState
from provisioner.services.compute.vms import vm_row
from provisioner.services.networks import nic_plug
from provisioner.services.networks.defaults import implement_network

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Hosts a start is tried on before it fails (CloudStack's ``start.retry``, 10 by default).
START_RETRIES = 10


def _tx(engine: Engine, work: Callable[[Connection], T]) -> T:
    return run_in_transaction(engine, work)


def _driver_error(verb: str, vm: Any, host_name: str, exc: Exception) -> InternalError:
    return InternalError(f"Unable to {verb} VM {vm.name} ({vm.uuid}) on host {host_name}: {exc}")


def _no_deployment(
    engine: Engine, vm_id: int, failed: dict[int, str], exc: InsufficientCapacityError
) -> InsufficientCapacityError:
    """CloudStack's 533 after a start failed on every host the planner could offer."""
    vm = _tx(engine, lambda conn: vm_row(conn, vm_id))
    tried = "; ".join(failed.values())
    return InsufficientCapacityError(
        f"Unable to create a deployment for VM[User|{vm.instance_name}]: it failed to start on {tried}; "
        f"no other host fits ({exc.errortext})"
    )


def _reserve(
    conn: Connection,
    vm_id: int,
    host_id: int | None,
    is_root_admin: bool,
    snapshot: Snapshot | None,
    *,
    exclude_hosts: frozenset[int] = frozenset(),
    hints: placement.Hints | None = None,
) -> Placement:
    """Stopped -> Starting with the VM placed and its capacity reserved; its networks implemented.

    The placement comes last: its guarded UPDATEs lock the host and pool rows that every concurrent
    deployment to them needs, until this transaction commits, so nothing else runs after them.
    """
    allocated_networks = (
        select(nic.c.network_id)
        .join(guest_network, guest_network.c.id == nic.c.network_id)
        .where(nic.c.vm_id == vm_id, nic.c.removed.is_(None), guest_network.c.state == "Allocated")
    )
    for (network_id,) in conn.execute(allocated_networks).all():
        implement_network(conn, network_id)
    conn.execute(
        update(volume)
        .where(volume.c.vm_id == vm_id, volume.c.state == VolumeState.ALLOCATED.value, volume.c.removed.is_(None))
        .values(state=VolumeState.CREATING.value, update_count=volume.c.update_count + 1)
    )
    return placement.start(
        conn,
        vm_id,
        host_id=host_id,
        is_root_admin=is_root_admin,
        snapshot=snapshot,
        exclude_hosts=exclude_hosts,
        hints=hints,
    )


def _plan(conn: Connection, vm_id: int, host_id: int) -> DriverPlan:
    """What the driver needs to start the placed VM on ``host_id`` (read after the reservation committed)."""
    return driver_plan(conn, vm_row(conn, vm_id), host_id, base=base_images.root_needing_base(conn, vm_id))


def _started(conn: Connection, vm_id: int, plan: DriverPlan) -> None:
    transitions.transition(
        conn, vm_id, VMEvent.OPERATION_SUCCEEDED, power_state=PowerState.POWER_ON.value, power_state_updated=utcnow()
    )
    for volume_id, path in plan.volume_paths.items():
        conn.execute(
            update(volume)
            .where(volume.c.id == volume_id, volume.c.state == VolumeState.CREATING.value)
            .values(state=VolumeState.READY.value, path=path, update_count=volume.c.update_count + 1)
        )


def _start_failed(conn: Connection, vm_id: int) -> None:
    """Starting -> Stopped (host capacity released); volumes never created go back to Allocated, their pool
    bytes given back (the next placement reserves them again, wherever it goes)."""
    transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED)
    unplaced = conn.execute(
        select(volume.c.id, volume.c.pool_id, volume.c.size).where(
            volume.c.vm_id == vm_id, volume.c.state == VolumeState.CREATING.value, volume.c.path.is_(None)
        )
    ).all()
    for volume_id, pool_id, size in unplaced:
        if pool_id is not None:
            release_pool(conn, pool_id, size)
        conn.execute(
            update(volume)
            .where(volume.c.id == volume_id)
            .values(state=VolumeState.ALLOCATED.value, pool_id=None, update_count=volume.c.update_count + 1)
        )


def _discard_domain(driver: HypervisorDriver, plan: DriverPlan) -> None:
    """Best effort: remove the domain a failed start defined (CloudStack cleans up before it retries)."""
    try:
        with contextlib.suppress(VMNotFoundError):
            driver.destroy_vm(plan.spec.name)
    except Exception as exc:  # the host may be the reason the start failed: the retry goes elsewhere anyway
        log.warning(
            "could not remove VM %s from host %s after a failed start: %s", plan.spec.name, plan.host["name"], exc
        )


def _refresh_data_disks(driver: HypervisorDriver, spec: VMSpec) -> None:
    """Give a stopped VM that is defined already the data disks it has now, as a hot attach would.

    Volumes attached while the VM was stopped reached only the database (CloudStack's KVM agent defines
    the domain afresh at every start); each data disk is detached (when there) and attached again.
    """
    for disk in spec.disks:
        if disk.device_id == 0:
            continue
        with contextlib.suppress(VMNotFoundError):  # not there yet
            driver.detach_volume(spec.name, disk)
        driver.attach_volume(spec.name, disk)


def _run_on_host(engine: Engine, plan: DriverPlan) -> DriverPlan:
    """Place the disks as the host reaches them, define the VM unless it is there already, power it on.

    Returns the plan with its disks; disks made on pools for this start are deleted again when it fails,
    and iSCSI LUNs chosen for it are given back.
    """
    claimed: dict[int, str] = {}  # volume id -> the iSCSI LUN this start gave it

    def claim(item: host_disks.PlacedVolume) -> str:
        claimed[item.id] = host_disks.claim_lun(engine, item)
        return claimed[item.id]

    def drop_claims() -> None:
        if claimed:
            _tx(engine, lambda conn: host_disks.drop_luns(conn, claimed))

    with open_host_driver(plan.host) as driver:
        try:
            placed = host_disks.place(
                plan.volumes, template_key=plan.template_key, acquired=plan.backing, mounts=driver.mounts, claim=claim
            )
        except BaseException:
            drop_claims()
            raise
        plan = plan.with_disks(placed)
        defined_here = False
        try:
            try:
                info = driver.get_vm(plan.spec.name)
            except VMNotFoundError:
                with contextlib.suppress(VMExistsError):  # defined by a concurrent retry of ours: start that one
                    driver.define_vm(plan.spec)
                    defined_here = True
            else:
                if info.state is VMState.STOPPED and driver.supports(Features.VOLUME_ATTACH):
                    _refresh_data_disks(driver, plan.spec)
                if info.state is VMState.STOPPED:  # a NIC added while its host could not be told
                    nic_plug.plug_missing_nics(driver, plan.spec)
                # Keys, password or user data changed while it was stopped reach the guest at this boot.
                if info.state is VMState.STOPPED and driver.supports(Features.CLOUD_INIT):
                    driver.write_seed(plan.spec)
            driver.start_vm(plan.spec.name)
        except BaseException:
            # Only what this start defined goes: a VM defined by an earlier start keeps its domain and the
            # disks it owns (destroying it would delete a root disk that holds the guest's data).
            if defined_here:
                _discard_domain(driver, plan)
            host_disks.remove(placed.created)  # nothing runs on them: the VM did not start
            drop_claims()
            raise
    return plan


def start(
    engine: Engine,
    vm_id: int,
    zone_id: int,
    *,
    host_id: int | None = None,
    is_root_admin: bool = False,
    on_failure: Callable[[Connection, int], None] | None = None,
    answer: Callable[[Connection], T] | None = None,
    hints: placement.Hints | None = None,
) -> T | None:
    """Place, reserve and power on a Stopped VM; returns ``answer``'s result, read where the start is recorded.

    Args:
        engine: the database.
        vm_id: the VM's internal id.
        zone_id: its zone (whose shared snapshot the placement starts from).
        host_id: a host the VM must go to (root admins), or None.
        is_root_admin: the caller may use disabled zones, pods and clusters.
        on_failure: runs in the transaction that records a failure (a failed deployment expunges there).
        answer: runs in the transaction that records the VM Running (the job's answer, without one more).
        hints: the pod, cluster and planner a root admin asked for.

    Raises:
        ParamError: the VM is not Stopped (431).
        InsufficientCapacityError: nothing fits (533).
        InternalError: the hypervisor failed to define or start it (530).
    """
    failed: dict[int, str] = {}  # hosts it failed to start on, and why
    while True:
        try:
            reserve = partial(
                _reserve,
                vm_id=vm_id,
                host_id=host_id,
                is_root_admin=is_root_admin,
                snapshot=placement.SNAPSHOTS.get(engine, zone_id),
                exclude_hosts=frozenset(failed),
                hints=hints,
            )
            placed = _tx(engine, reserve)
        except ApiError as exc:
            error = (
                _no_deployment(engine, vm_id, failed, exc)
                if failed and isinstance(exc, InsufficientCapacityError)
                else exc
            )
            if on_failure is not None:
                _tx(engine, lambda conn: on_failure(conn, vm_id))
            if error is not exc:
                raise error from None
            raise

        def undo(conn: Connection) -> None:
            _start_failed(conn, vm_id)
            if on_failure is not None:
                on_failure(conn, vm_id)

        try:
            plan = _tx(engine, partial(_plan, vm_id=vm_id, host_id=placed.host_id))
        except BaseException:
            _tx(engine, undo)  # the reservation committed already: give it back (a disk the host cannot reach…)
            raise
        try:
            plan = plan.with_backing(base_images.acquire(engine, plan.base))
            plan = _run_on_host(engine, plan)
        except Exception as exc:
            if plan.backing is not None:
                base_images.release(engine, plan.base)
            log.warning("starting VM %s on host %s failed: %s", plan.spec.name, plan.host["name"], exc)
            failed[int(plan.host["id"])] = f"{plan.host['name']}: {exc}"
            if host_id is None and len(failed) < START_RETRIES:
                # CloudStack's orchestrateStart: the failed host joins the avoid set and the VM is planned again.
                _tx(engine, lambda conn: _start_failed(conn, vm_id))
                continue
            vm = _tx(engine, lambda conn: vm_row(conn, vm_id))
            _tx(engine, undo)
            raise _driver_error("start", vm, plan.host["name"], exc) from None
        break

    def started(conn: Connection) -> T | None:
        _started(conn, vm_id, plan)
        return answer(conn) if answer is not None else None

    return _tx(engine, started)


def stop(engine: Engine, vm_id: int, *, forced: bool = False) -> None:
    """Power a Running VM off (Running -> Stopping -> Stopped); a Stopped VM is left as it is.

    Raises:
        ParamError: the VM is in a state that cannot stop (431).
        InternalError: the hypervisor failed (530); the VM is Running again.
    """

    def begin(conn: Connection) -> tuple[Any, Any] | None:
        vm = vm_row(conn, vm_id)
        if vm.state == VMState.STOPPED.value:
            return None
        transitions.transition(conn, vm_id, VMEvent.STOP_REQUESTED)
        return vm, host_row(conn, vm.host_id)

    begun = _tx(engine, begin)
    if begun is None:
        return
    vm, host = begun
    try:
        # A VM gone from the host is stopped.
        with open_host_driver(host) as driver, contextlib.suppress(VMNotFoundError):
            driver.stop_vm(vm.instance_name, force=forced)
    except Exception as exc:
        _tx(engine, lambda conn: transitions.transition(conn, vm_id, VMEvent.OPERATION_FAILED))
        raise _driver_error("stop", vm, host["name"], exc) from None
    _tx(
        engine,
        lambda conn: transitions.transition(
            conn,
            vm_id,
            VMEvent.OPERATION_SUCCEEDED,
            power_state=PowerState.POWER_OFF.value,
            power_state_updated=utcnow(),
        ),
    )


def reboot(engine: Engine, vm_id: int) -> None:
    """Reboot a Running VM on its host; its state does not change.

    Raises:
        ParamError: the VM is not Running (431).
        InternalError: the hypervisor failed (530).
    """

    def read(conn: Connection) -> tuple[Any, Any]:
        vm = vm_row(conn, vm_id)
        if vm.state != VMState.RUNNING.value or vm.host_id is None:
            raise ParamError(f"Unable to reboot VM {vm.name}: it is {vm.state}, not Running; start it instead")
        return vm, host_row(conn, vm.host_id)

    vm, host = _tx(engine, read)
    try:
        with open_host_driver(host) as driver:
            driver.reboot_vm(vm.instance_name)
    except Exception as exc:
        raise _driver_error("reboot", vm, host["name"], exc) from None
