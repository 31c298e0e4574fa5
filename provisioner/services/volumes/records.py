"""Reading volumes: the joined query, the wire rows of ``VolumeResponse`` and ``listVolumes``.

A page of ``listVolumes`` costs a constant number of statements: the page (ids picked by a keys-only
query inside it), the count when the page does not prove it, and the tags of the page's volumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, func, select

from provisioner.db.schema import (
    cluster,
    disk_offering,
    host,
    pod,
    storage_pool,
    vm_instance,
    volume,
    zone,
)
from provisioner.services.common import contains
from provisioner.services.compute.states import VolumeState
from provisioner.services.principal import Caller
from provisioner.services.tags import register_resource_type, tagged_with, tags_by_resource
from provisioner.services.volumes.ownership import Scope, live_row, owned_page, owner_fields, owner_lookup, with_owner

#: The resource type of volumes in ``createTags`` and ``listTags``.
RESOURCE_TYPE = "Volume"

_vm = vm_instance.alias("vm")
_pool = storage_pool.alias("pool")
_cluster = cluster.alias("pool_cluster")
_pod = pod.alias("pool_pod")


def volume_query() -> Select[Any]:
    """Volumes with the names their response shows (zone, VM, pool, offering, owner)."""
    query = (
        select(
            volume,
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            _vm.c.uuid.label("vm_uuid"),
            _vm.c.name.label("vm_name"),
            _vm.c.display_name.label("vm_display_name"),
            _vm.c.state.label("vm_state"),
            _vm.c.type.label("vm_type"),
            _vm.c.host_id.label("vm_host_id"),
            _vm.c.hypervisor_type.label("vm_hypervisor"),
            _pool.c.uuid.label("pool_uuid"),
            _pool.c.name.label("pool_name"),
            _pool.c.scope.label("pool_scope"),
            _cluster.c.uuid.label("cluster_uuid"),
            _cluster.c.name.label("cluster_name"),
            _cluster.c.hypervisor_type.label("cluster_hypervisor"),
            _pod.c.uuid.label("pod_uuid"),
            _pod.c.name.label("pod_name"),
            disk_offering.c.uuid.label("offering_uuid"),
            disk_offering.c.name.label("offering_name"),
            disk_offering.c.display_text.label("offering_text"),
            disk_offering.c.storage_type.label("offering_storage_type"),
        )
        .join(zone, zone.c.id == volume.c.zone_id)
        .outerjoin(_vm, _vm.c.id == volume.c.vm_id)
        .outerjoin(_pool, _pool.c.id == volume.c.pool_id)
        .outerjoin(_cluster, _cluster.c.id == _pool.c.cluster_id)
        .outerjoin(_pod, _pod.c.id == _pool.c.pod_id)
        .outerjoin(disk_offering, disk_offering.c.id == volume.c.disk_offering_id)
    )
    return with_owner(query, volume)


def live_volume() -> Any:
    """Volumes not yet expunged."""
    return and_(volume.c.removed.is_(None), volume.c.state != VolumeState.EXPUNGED.value)


def wire_row(m: RowMapping, caller: Caller, tags: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A volume as ``VolumeResponse``; storage placement (pool, path, pod, cluster) only for root admins."""
    local = m["pool_scope"] == "HOST" or m["offering_storage_type"] == "local"
    row: dict[str, Any] = {
        "id": m["uuid"],
        "name": m["name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "type": m["volume_type"],
        "state": m["state"],
        "size": m["size"],
        "virtualsize": m["size"],
        "provisioningtype": m["provisioning_type"],
        "storagetype": "local" if local else "shared",
        "hypervisor": m["vm_hypervisor"] or m["cluster_hypervisor"] or "None",
        "deviceid": m["device_id"] if m["vm_uuid"] else None,
        "virtualmachineid": m["vm_uuid"],
        "vmname": m["vm_name"],
        "vmdisplayname": m["vm_display_name"],
        "vmstate": m["vm_state"],
        "vmtype": m["vm_type"],
        "diskofferingid": m["offering_uuid"],
        "diskofferingname": m["offering_name"],
        "diskofferingdisplaytext": m["offering_text"],
        **owner_fields(m),
        "created": m["created"],
        "attached": m["attached"] if m["vm_uuid"] else None,
        "destroyed": m["state"] in (VolumeState.DESTROY.value, VolumeState.EXPUNGING.value),
        "isextractable": True,
        "displayvolume": True,
        "quiescevm": False,
        "supportsstoragesnapshot": False,
        "format": m["format"],
        "tags": list(tags),
    }
    if caller.is_root_admin:
        row.update(
            storageid=m["pool_uuid"],
            storage=m["pool_name"],
            path=m["path"],
            clusterid=m["cluster_uuid"],
            clustername=m["cluster_name"],
            podid=m["pod_uuid"],
            podname=m["pod_name"],
        )
    return row


def volume_by_uuid(conn: Connection, uuid: str, param: str = "id") -> Any:
    """The live volume row with public id ``uuid``.

    Raises:
        ParamError: no such volume, in the verbatim unknown-id text (431).
    """
    return live_row(conn, volume, uuid, param, live_volume())


def volume_response(conn: Connection, caller: Caller, volume_id: int) -> dict[str, Any]:
    """One volume (by internal id, removed ones included) as its wire row."""
    m = conn.execute(volume_query().where(volume.c.id == volume_id)).mappings().one()
    return wire_row(m, caller, tags_by_resource(conn, RESOURCE_TYPE, [m["uuid"]]).get(m["uuid"], []))


def _uuid_of(table: Any, uuid: str) -> Any:
    return select(table.c.id).where(table.c.uuid == uuid.lower()).scalar_subquery()


def list_volumes(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    virtualmachineid: str | None = None,
    type: str | None = None,
    zoneid: str | None = None,
    podid: str | None = None,
    clusterid: str | None = None,
    hostid: str | None = None,
    storageid: str | None = None,
    diskofferingid: str | None = None,
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
    """``listVolumes``: one page of the volumes the caller may see, and the total count."""
    conditions: list[Any] = [live_volume()]
    if id:
        conditions.append(volume.c.uuid == id.lower())
    if ids:
        conditions.append(volume.c.uuid.in_([item.lower() for item in ids]))
    if name:
        conditions.append(volume.c.name == name)
    if keyword:
        conditions.append(contains(volume.c.name, keyword))
    if type:
        conditions.append(func.upper(volume.c.volume_type) == type.upper())
    if state:
        conditions.append(func.lower(volume.c.state) == state.lower())
    if virtualmachineid:
        conditions.append(volume.c.vm_id == _uuid_of(vm_instance, virtualmachineid))
    if zoneid:
        conditions.append(volume.c.zone_id == _uuid_of(zone, zoneid))
    if diskofferingid:
        conditions.append(volume.c.disk_offering_id == _uuid_of(disk_offering, diskofferingid))
    if storageid:
        conditions.append(volume.c.pool_id == _uuid_of(storage_pool, storageid))
    if hostid:
        on_host = select(vm_instance.c.id).where(vm_instance.c.host_id == _uuid_of(host, hostid))
        conditions.append(volume.c.vm_id.in_(on_host))
    if podid or clusterid:
        pools = select(storage_pool.c.id)
        if podid:
            pools = pools.where(storage_pool.c.pod_id == _uuid_of(pod, podid))
        if clusterid:
            pools = pools.where(storage_pool.c.cluster_id == _uuid_of(cluster, clusterid))
        conditions.append(volume.c.pool_id.in_(pools))
    if tags:
        conditions.append(tagged_with(RESOURCE_TYPE, volume.c.uuid, tags))
    rows, total = owned_page(
        conn,
        caller,
        volume,
        volume_query(),
        conditions,
        scope=Scope(account_name, domainid, listall, isrecursive),
        by_id=bool(id or ids),
        resource_type=RESOURCE_TYPE,
        page=page,
        pagesize=pagesize,
    )
    return [wire_row(m, caller, found) for m, found in rows], total


register_resource_type(RESOURCE_TYPE, owner_lookup(volume, live_volume))
