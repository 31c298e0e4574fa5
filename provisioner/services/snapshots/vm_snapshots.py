"""VM snapshots: ``createVMSnapshot``, ``listVMSnapshot``, ``revertToVMSnapshot``, ``deleteVMSnapshot``.

The hypervisor keeps them (the driver's ``create_snapshot``/``revert_snapshot``/``delete_snapshot``,
through ``open_host_driver``); the database keeps CloudStack's view: states Allocated → Creating →
Ready (Reverting while reverting, Expunging while deleting, Error when the hypervisor failed), the
``current`` flag (the snapshot the VM was last taken at or reverted to) and the ``parent`` chain.
CloudStack's rules: the VM must be Running or Stopped; memory is snapshotted only of a Running VM;
a disk-only snapshot is reverted only while the VM is Stopped; at most ``vmsnapshot.max`` per VM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Select, func, insert, select, update

from provisioner.compute.types import VMState
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import (
    host,
    hypervisor_capability,
    new_uuid,
    utcnow,
    vm_instance,
    vm_snapshot,
    zone,
)
from provisioner.exceptions import ParamError
from provisioner.services.common import contains
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.configuration import config_value
from provisioner.services.principal import Caller
from provisioner.services.tags import register_resource_type, tagged_with, tags_by_resource
from provisioner.services.volumes.attachment import vm_by_uuid
from provisioner.services.volumes.ownership import (
    Scope,
    check_owner_access,
    live_row,
    move_state,
    owned_page,
    owner_fields,
    owner_lookup,
    with_owner,
)

RESOURCE_TYPE = "VMSnapshot"
ALLOCATED, CREATING, READY, REVERTING, EXPUNGING, ERROR = (
    "Allocated",
    "Creating",
    "Ready",
    "Reverting",
    "Expunging",
    "Error",
)
DISK, DISK_AND_MEMORY = "Disk", "DiskAndMemory"
#: CloudStack's ``vmsnapshot.max`` default.
DEFAULT_MAX = 10
_SNAPSHOTTABLE = (VMState.RUNNING.value, VMState.STOPPED.value)

_parent = vm_snapshot.alias("parent")


def _query() -> Select[Any]:
    query = (
        select(
            vm_snapshot,
            vm_instance.c.uuid.label("vm_uuid"),
            vm_instance.c.name.label("vm_name"),
            vm_instance.c.display_name.label("vm_display_name"),
            vm_instance.c.hypervisor_type.label("vm_hypervisor"),
            _parent.c.uuid.label("parent_uuid"),
            _parent.c.display_name.label("parent_name"),
            zone.c.uuid.label("zone_uuid"),
        )
        .join(vm_instance, vm_instance.c.id == vm_snapshot.c.vm_id)
        .outerjoin(_parent, _parent.c.id == vm_snapshot.c.parent_id)
        .join(zone, zone.c.id == vm_snapshot.c.zone_id)
    )
    return with_owner(query, vm_snapshot)


def wire_row(m: RowMapping, tags: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A VM snapshot as ``VMSnapshotResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displayname": m["display_name"],
        "description": m["description"],
        "state": m["state"],
        "type": m["type"],
        "current": bool(m["current"]),
        "parent": m["parent_uuid"],
        "parentName": m["parent_name"],
        "created": m["created"],
        "zoneid": m["zone_uuid"],
        "virtualmachineid": m["vm_uuid"],
        "virtualmachinename": m["vm_display_name"] or m["vm_name"],
        "hypervisor": m["vm_hypervisor"],
        **owner_fields(m),
        "tags": list(tags),
    }


def vm_snapshot_response(conn: Connection, snapshot_id: int) -> dict[str, Any]:
    """One VM snapshot as its wire row."""
    m = conn.execute(_query().where(vm_snapshot.c.id == snapshot_id)).mappings().one()
    return wire_row(m, tags_by_resource(conn, RESOURCE_TYPE, [m["uuid"]]).get(m["uuid"], []))


def _set(conn: Connection, row: Any, state: str, **values: Any) -> None:
    move_state(conn, vm_snapshot, row, state, f"VM snapshot {row.name}", **values)


def _fresh(conn: Connection, snapshot_id: int) -> Any:
    return conn.execute(select(vm_snapshot).where(vm_snapshot.c.id == snapshot_id)).one()


def _checked(conn: Connection, caller: Caller, uuid: str, param: str = "vmsnapshotid") -> Any:
    row = live_row(conn, vm_snapshot, uuid, param, vm_snapshot.c.removed.is_(None))
    check_owner_access(conn, caller, row.account_id, row.domain_id, f"VM snapshot {row.display_name or row.name}")
    return row


def _snapshot_enabled(conn: Connection, hypervisor: str | None) -> bool:
    if hypervisor is None:
        return True
    enabled = conn.execute(
        select(hypervisor_capability.c.vm_snapshot_enabled).where(
            func.lower(hypervisor_capability.c.hypervisor_type) == hypervisor.lower(),
            hypervisor_capability.c.hypervisor_version == "default",
        )
    ).scalar()
    return enabled is None or bool(enabled)


def create_vm_snapshot_row(
    conn: Connection,
    caller: Caller,
    vm_uuid: str,
    *,
    name: str | None,
    description: str | None,
    snapshotmemory: bool,
) -> str:
    """``createVMSnapshot``'s create step: an Allocated VM snapshot, after CloudStack's checks.

    Raises:
        ParamError: the VM is neither Running nor Stopped, memory of a stopped VM, the hypervisor does not
            take VM snapshots, or the VM has ``vmsnapshot.max`` already (431).
    """
    vm = vm_by_uuid(conn, vm_uuid)
    check_owner_access(conn, caller, vm.account_id, vm.domain_id, f"VM {vm.name}")
    if vm.state not in _SNAPSHOTTABLE:
        raise ParamError(f"Creating VM snapshot failed due to VM:{vm_uuid} is not in the running or Stopped state")
    if snapshotmemory and vm.state != VMState.RUNNING.value:
        raise ParamError("Can not snapshot memory when VM is not in Running state")
    if vm.host_id is None and vm.last_host_id is None:
        raise ParamError(f"VM {vm.name} has never been started: it has no disks to snapshot yet")
    if not _snapshot_enabled(conn, vm.hypervisor_type):
        raise ParamError(f"VM snapshot is not enabled for hypervisor type: {vm.hypervisor_type}")
    limit = int(config_value(conn, "vmsnapshot.max") or DEFAULT_MAX)
    count = conn.execute(
        select(func.count()).where(vm_snapshot.c.vm_id == vm.id, vm_snapshot.c.removed.is_(None))
    ).scalar_one()
    if count >= limit:
        raise ParamError(
            f"Creating vm snapshot failed due to a VM can just have : {limit} VM snapshots. Please delete old ones"
        )
    internal = f"{vm.instance_name}_VS_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
    # Two snapshots within one second would share CloudStack's name; the hypervisor needs distinct ones.
    same = conn.execute(
        select(func.count()).where(vm_snapshot.c.vm_id == vm.id, vm_snapshot.c.name.like(internal + "%"))
    ).scalar_one()
    if same:
        internal = f"{internal}_{same + 1}"
    if name:
        taken = conn.execute(
            select(func.count()).where(
                vm_snapshot.c.vm_id == vm.id, vm_snapshot.c.display_name == name, vm_snapshot.c.removed.is_(None)
            )
        ).scalar_one()
        if taken:
            raise ParamError(f"Creating VM snapshot failed due to VM snapshot with name {name} already exists")
    uuid = new_uuid()
    conn.execute(
        insert(vm_snapshot).values(
            uuid=uuid,
            name=internal,
            display_name=name or internal,
            description=description,
            vm_id=vm.id,
            type=DISK_AND_MEMORY if snapshotmemory else DISK,
            state=ALLOCATED,
            service_offering_id=vm.service_offering_id,
            account_id=vm.account_id,
            domain_id=vm.domain_id,
            zone_id=vm.zone_id,
        )
    )
    return uuid


def _host_of(conn: Connection, vm: Any) -> dict[str, Any]:
    host_id = vm.host_id if vm.host_id is not None else vm.last_host_id
    return dict(conn.execute(select(host).where(host.c.id == host_id)).mappings().one())


def _vm(conn: Connection, row: Any) -> Any:
    return conn.execute(select(vm_instance).where(vm_instance.c.id == row.vm_id)).one()


def take_vm_snapshot(engine: Engine, caller: Caller, uuid: str) -> dict[str, Any]:
    """``createVMSnapshot``'s job: the hypervisor takes it; it becomes the VM's current snapshot."""

    def begin(conn: Connection) -> tuple[Any, dict[str, Any], str]:
        row = _checked(conn, caller, uuid)
        vm = _vm(conn, row)
        if vm.state not in _SNAPSHOTTABLE:
            raise ParamError(f"Creating VM snapshot failed due to VM:{vm.uuid} is not in the running or Stopped state")
        _set(conn, row, CREATING)
        return row, _host_of(conn, vm), vm.instance_name

    row, host_row, instance_name = run_in_transaction(engine, begin)
    try:
        with open_host_driver(host_row) as driver:
            driver.create_snapshot(instance_name, row.name, description=row.description or "")
    except BaseException:
        run_in_transaction(engine, lambda conn: _set(conn, _fresh(conn, row.id), ERROR))
        raise

    def finish(conn: Connection) -> None:
        current = conn.execute(
            select(vm_snapshot.c.id).where(
                vm_snapshot.c.vm_id == row.vm_id, vm_snapshot.c.current.is_(True), vm_snapshot.c.removed.is_(None)
            )
        ).scalar()
        conn.execute(update(vm_snapshot).where(vm_snapshot.c.vm_id == row.vm_id).values(current=False))
        _set(conn, _fresh(conn, row.id), READY, current=True, parent_id=current)

    run_in_transaction(engine, finish)
    return run_in_transaction(engine, lambda conn: vm_snapshot_response(conn, row.id))


def revert_to_vm_snapshot(engine: Engine, caller: Caller, uuid: str) -> int:
    """``revertToVMSnapshot``: the VM returns to the snapshot, which becomes current; returns the VM's id.

    Raises:
        ParamError: the snapshot is not Ready, the VM is neither Running nor Stopped, or a disk-only snapshot
            of a running VM (431).
    """

    def begin(conn: Connection) -> tuple[Any, dict[str, Any], str]:
        row = _checked(conn, caller, uuid)
        if row.state != READY:
            raise ParamError(
                f"VM Snapshot reverting failed due to vm snapshot {row.display_name} is not in Ready state"
            )
        vm = _vm(conn, row)
        if vm.state not in _SNAPSHOTTABLE:
            raise ParamError(f"VM Snapshot reverting failed due to vm {vm.name} is not in the running or Stopped state")
        if row.type != DISK_AND_MEMORY and vm.state == VMState.RUNNING.value:
            raise ParamError("VM Snapshot reverting failed due to vm is not in the state as Shutdown.")
        _set(conn, row, REVERTING)
        return row, _host_of(conn, vm), vm.instance_name

    row, host_row, instance_name = run_in_transaction(engine, begin)
    try:
        with open_host_driver(host_row) as driver:
            driver.revert_snapshot(instance_name, row.name)
    except BaseException:
        run_in_transaction(engine, lambda conn: _set(conn, _fresh(conn, row.id), READY))
        raise

    def finish(conn: Connection) -> None:
        conn.execute(update(vm_snapshot).where(vm_snapshot.c.vm_id == row.vm_id).values(current=False))
        _set(conn, _fresh(conn, row.id), READY, current=True)

    run_in_transaction(engine, finish)
    return int(row.vm_id)


def delete_vm_snapshot(engine: Engine, caller: Caller, uuid: str) -> None:
    """``deleteVMSnapshot``: the hypervisor drops it; children move to its parent, which becomes current if it was."""

    def begin(conn: Connection) -> tuple[Any, dict[str, Any] | None, str]:
        row = _checked(conn, caller, uuid)
        if row.state not in (READY, ERROR):
            raise ParamError(
                f"Can't delete the vm snapshot {row.display_name} due to it is in {row.state} state; try again later"
            )
        vm = _vm(conn, row)
        reach = _host_of(conn, vm) if row.state == READY else None
        _set(conn, row, EXPUNGING)
        return row, reach, vm.instance_name

    row, host_row, instance_name = run_in_transaction(engine, begin)
    if host_row is not None:
        try:
            with open_host_driver(host_row) as driver:
                driver.delete_snapshot(instance_name, row.name)
        except BaseException:
            run_in_transaction(engine, lambda conn: _set(conn, _fresh(conn, row.id), READY))
            raise

    def finish(conn: Connection) -> None:
        gone = _fresh(conn, row.id)
        conn.execute(update(vm_snapshot).where(vm_snapshot.c.parent_id == gone.id).values(parent_id=gone.parent_id))
        if gone.current and gone.parent_id is not None:
            conn.execute(update(vm_snapshot).where(vm_snapshot.c.id == gone.parent_id).values(current=True))
        _set(conn, gone, EXPUNGING, current=False, removed=utcnow())

    run_in_transaction(engine, finish)


def list_vm_snapshots(
    conn: Connection,
    caller: Caller,
    *,
    vmsnapshotid: str | None = None,
    vmsnapshotids: Sequence[str] | None = None,
    virtualmachineid: str | None = None,
    name: str | None = None,
    state: str | None = None,
    keyword: str | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    listall: bool = False,
    isrecursive: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """``listVMSnapshot``: one page of the VM snapshots the caller may see, and the total."""
    conditions: list[Any] = [vm_snapshot.c.removed.is_(None)]
    if vmsnapshotid:
        conditions.append(vm_snapshot.c.uuid == vmsnapshotid.lower())
    if vmsnapshotids:
        conditions.append(vm_snapshot.c.uuid.in_([item.lower() for item in vmsnapshotids]))
    if virtualmachineid:
        owner = select(vm_instance.c.id).where(vm_instance.c.uuid == virtualmachineid.lower()).scalar_subquery()
        conditions.append(vm_snapshot.c.vm_id == owner)
    if name:
        conditions.append(vm_snapshot.c.display_name == name)
    if state:
        conditions.append(func.lower(vm_snapshot.c.state) == state.lower())
    if keyword:
        conditions.append(contains(vm_snapshot.c.display_name, keyword))
    if tags:
        conditions.append(tagged_with(RESOURCE_TYPE, vm_snapshot.c.uuid, tags))
    rows, total = owned_page(
        conn,
        caller,
        vm_snapshot,
        _query(),
        conditions,
        scope=Scope(account_name, domainid, listall, isrecursive),
        by_id=bool(vmsnapshotid or vmsnapshotids),
        resource_type=RESOURCE_TYPE,
        page=page,
        pagesize=pagesize,
    )
    return [wire_row(m, found) for m, found in rows], total


register_resource_type(RESOURCE_TYPE, owner_lookup(vm_snapshot, lambda: vm_snapshot.c.removed.is_(None)))
