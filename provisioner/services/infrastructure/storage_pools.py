"""Primary storage pools (``createStoragePool``, ``listStoragePools``, maintenance, update, delete)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import cluster, host, pod, storage_pool, storage_pool_tag, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure import capacity, storage_stats
from provisioner.services.infrastructure.clusters import hypervisor_name
from provisioner.services.infrastructure.common import (
    SIMULATED_CAPACITY,
    Row,
    common_filters,
    decimal_text,
    exists,
    get_live,
    is_simulated_zone,
    replace_tags,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.storage_urls import parse_pool_url
from provisioner.services.principal import Caller

#: Answers whether volumes still live on a pool (by UUID); the volume layer supplies it.
PoolUsage = Callable[[str], bool]
#: Hypervisors CloudStack lets use zone-wide primary storage.
ZONE_WIDE_HYPERVISORS = ("KVM", "VMware", "Hyperv", "Simulator", "Any")
STORAGE_PROVIDERS = ("DefaultPrimary", "SolidFire", "CloudByte", "Datera", "Linstor", "StorPool")


def pool_row(m: RowMapping) -> Row:
    """A pool row joined with zone/pod/cluster names and its factor, as ``StoragePoolResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "podid": m["pod_uuid"],
        "podname": m["pod_name"],
        "clusterid": m["cluster_uuid"],
        "clustername": m["cluster_name"],
        "type": m["pool_type"],
        "scope": m["scope"],
        "state": m["state"],
        "path": m["path"],
        "ipaddress": m["host_address"],
        "disksizetotal": m["capacity_bytes"],
        "disksizeallocated": m["allocated_bytes"],
        "disksizeused": m["used_bytes"],
        "capacityiops": m["capacity_iops"],
        "overprovisionfactor": decimal_text(float(m["factor"])),
        "tags": m["tags"],
        "istagarule": False,
        "provider": m["provider"],
        "hypervisor": m["hypervisor_type"],
        "managed": bool(m["managed"]),
        "created": m["created"],
    }


def _select() -> Any:
    return (
        select(
            storage_pool,
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            pod.c.uuid.label("pod_uuid"),
            pod.c.name.label("pod_name"),
            cluster.c.uuid.label("cluster_uuid"),
            cluster.c.name.label("cluster_name"),
            capacity.storage_factor(storage_pool.c.id, storage_pool.c.pool_type).label("factor"),
        )
        .join(zone, zone.c.id == storage_pool.c.zone_id)
        .outerjoin(pod, pod.c.id == storage_pool.c.pod_id)
        .outerjoin(cluster, cluster.c.id == storage_pool.c.cluster_id)
    )


def one_pool(conn: Connection, pool_id: int) -> Row:
    """The response row of one pool by internal id."""
    return pool_row(conn.execute(_select().where(storage_pool.c.id == pool_id)).mappings().one())


_one = one_pool


def _set_tags(conn: Connection, pool_id: int, tags: Sequence[str]) -> None:
    replace_tags(conn, storage_pool, pool_id, storage_pool_tag.c.pool_id, tags)


def _placement(
    conn: Connection, zone_row: RowMapping, podid: str | None, clusterid: str | None, hostid: str | None
) -> tuple[RowMapping | None, RowMapping | None]:
    pod_row = get_live(conn, pod, podid, "podid") if podid else None
    cluster_row = get_live(conn, cluster, clusterid, "clusterid") if clusterid else None
    host_row = get_live(conn, host, hostid, "hostid") if hostid else None
    if cluster_row is not None and pod_row is None:
        raise ParamError("Cluster id requires pod id")
    if pod_row is not None and pod_row["zone_id"] != zone_row["id"]:
        raise ParamError(f"Pod {pod_row['name']} does not belong to zone {zone_row['name']}")
    if cluster_row is not None and pod_row is not None and cluster_row["pod_id"] != pod_row["id"]:
        raise ParamError(f"Cluster {cluster_row['name']} does not belong to pod {pod_row['name']}")
    return cluster_row, host_row


def create_storage_pool(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str,
    name: str,
    url: str,
    podid: str | None = None,
    clusterid: str | None = None,
    hostid: str | None = None,
    scope: str | None = None,
    hypervisor: str | None = None,
    provider: str | None = None,
    managed: bool = False,
    capacitybytes: int | None = None,
    capacityiops: int | None = None,
    tags: str | Sequence[str] | None = None,
    details: Mapping[str, str] | None = None,
) -> Row:
    """Add primary storage (``createStoragePool``).

    Scope is CLUSTER with ``clusterid`` (and ``podid``), ZONE with ``scope=zone`` and a
    ``hypervisor``, HOST for local (``file://``) storage with ``hostid``. In a simulated zone the
    URL is not contacted and the pool reports 1 TiB. Elsewhere the total and used bytes are the
    storage's own, which :func:`.storage_stats.refresh_pools` records once this transaction has
    committed (the ``createStoragePool`` command at once, then every round); ``capacitybytes``, when
    given, stays the pool's total.

    Raises:
        ParamError: unknown ids, a bad URL, scope or hypervisor, or a pool at that URL in the zone.
    """
    require_root(caller, "createStoragePool")
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    location = parse_pool_url(url)
    cluster_row, host_row = _placement(conn, zone_row, podid, clusterid, hostid)
    if location.is_local or (scope or "").lower() == "host":
        if host_row is None:
            raise ParamError("Local storage needs the host it belongs to (hostid)")
        kind, hypervisor_type = "HOST", host_row["hypervisor_type"]
        pod_id, cluster_id = host_row["pod_id"], host_row["cluster_id"]
    elif cluster_row is not None and (scope or "cluster").lower() == "cluster":
        kind, hypervisor_type = "CLUSTER", cluster_row["hypervisor_type"]
        pod_id, cluster_id = cluster_row["pod_id"], cluster_row["id"]
    elif (scope or "zone").lower() == "zone":
        if not hypervisor:
            raise ParamError("hypervisor type must be specified for zone wide primary storage")
        hypervisor_type = "Any" if hypervisor.lower() == "any" else hypervisor_name(hypervisor)
        if hypervisor_type not in ZONE_WIDE_HYPERVISORS:
            raise ParamError(f"zone wide storage pool is not supported for hypervisor type {hypervisor_type}")
        kind, pod_id, cluster_id = "ZONE", None, None
    else:
        raise ParamError(f"Invalid scope {scope}; it must be cluster, zone or host")
    same_host = storage_pool.c.host_id.is_(None) if host_row is None else storage_pool.c.host_id == host_row["id"]
    if exists(
        conn,
        storage_pool,
        storage_pool.c.zone_id == zone_row["id"],
        storage_pool.c.host_address == location.host,
        storage_pool.c.path == location.path,
        same_host,
    ):
        raise ParamError(f"A storage pool with url {url} already exists in zone {zone_row['name']}")
    all_details = dict(details or {})
    if capacitybytes is not None:
        size = capacitybytes
        all_details[storage_stats.CAPACITY_DETAIL] = str(capacitybytes)
    elif is_simulated_zone(conn, zone_row["id"]):
        size = SIMULATED_CAPACITY
    else:
        size = 0  # until the storage stats measure it, with no transaction open
    new_id = conn.execute(
        insert(storage_pool).values(
            name=name,
            pool_type=location.pool_type,
            scope=kind,
            url=url,
            host_address=location.host,
            port=location.port,
            path=location.path,
            capacity_bytes=size,
            capacity_iops=capacityiops,
            state="Up",
            provider=provider or "DefaultPrimary",
            managed=managed,
            hypervisor_type=hypervisor_type,
            details=all_details,
            zone_id=zone_row["id"],
            pod_id=pod_id,
            cluster_id=cluster_id,
            host_id=host_row["id"] if host_row is not None else None,
        )
    ).inserted_primary_key
    assert new_id is not None
    _set_tags(conn, new_id[0], split_csv(tags))
    return _one(conn, new_id[0])


def list_storage_pools(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    podid: str | None = None,
    clusterid: str | None = None,
    hostid: str | None = None,
    scope: str | None = None,
    status: str | None = None,
    path: str | None = None,
    ipaddress: str | None = None,
    storagepooltags: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List primary storage (``listStoragePools``), root admin only."""
    require_root(caller, "listStoragePools")
    conditions = common_filters(storage_pool, id=id, ids=ids, name=name, keyword=keyword)
    for value, table, column in (
        (zoneid, zone, storage_pool.c.zone_id),
        (podid, pod, storage_pool.c.pod_id),
        (clusterid, cluster, storage_pool.c.cluster_id),
        (hostid, host, storage_pool.c.host_id),
    ):
        if value:
            conditions.append(column == select(table.c.id).where(table.c.uuid == value.lower()).scalar_subquery())
    if scope:
        conditions.append(storage_pool.c.scope == scope.upper())
    if status:
        conditions.append(storage_pool.c.state == status)
    if path:
        conditions.append(storage_pool.c.path == path)
    if ipaddress:
        conditions.append(storage_pool.c.host_address == ipaddress)
    if storagepooltags:
        tagged = select(storage_pool_tag.c.pool_id).where(storage_pool_tag.c.tag.in_(split_csv(storagepooltags)))
        conditions.append(storage_pool.c.id.in_(tagged))
    rows, total = list_page(conn, _select().where(*conditions), [storage_pool.c.id], page, pagesize)
    return [pool_row(m) for m in rows], total


def update_storage_pool(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    tags: str | Sequence[str] | None = None,
    capacitybytes: int | None = None,
    capacityiops: int | None = None,
    enabled: bool | None = None,
) -> Row:
    """Change a pool (``updateStoragePool``); ``enabled=false`` sets it Disabled, ``true`` Up again."""
    require_root(caller, "updateStoragePool")
    row = get_live(conn, storage_pool, id)
    values: dict[str, Any] = {}
    if name:
        values["name"] = name
    if capacitybytes is not None:
        if capacitybytes < row["used_bytes"]:
            raise ParamError("The new capacity bytes cannot be less than the used bytes of the pool")
        values["capacity_bytes"] = capacitybytes
        values["details"] = {**(row["details"] or {}), storage_stats.CAPACITY_DETAIL: str(capacitybytes)}
    if capacityiops is not None:
        values["capacity_iops"] = capacityiops
    if enabled is not None:
        if row["state"] not in ("Up", "Disabled"):
            raise ParamError(f"Cannot enable or disable storage pool {row['uuid']} in state {row['state']}")
        values["state"] = "Up" if enabled else "Disabled"
    if values:
        conn.execute(update(storage_pool).where(storage_pool.c.id == row["id"]).values(**values))
    if tags is not None:
        _set_tags(conn, row["id"], split_csv(tags))
    return _one(conn, row["id"])


def enable_storage_maintenance(conn: Connection, caller: Caller, id: str) -> Row:
    """Up/Disabled → Maintenance (``enableStorageMaintenance``; volumes are the volume layer's to move)."""
    require_root(caller, "enableStorageMaintenance")
    row = get_live(conn, storage_pool, id)
    if row["state"] not in ("Up", "Disabled", "ErrorInMaintenance"):
        raise ParamError(f"Primary storage {row['uuid']} is not ready for maintenance: its state is {row['state']}")
    conn.execute(update(storage_pool).where(storage_pool.c.id == row["id"]).values(state="Maintenance"))
    return _one(conn, row["id"])


def cancel_storage_maintenance(conn: Connection, caller: Caller, id: str) -> Row:
    """Maintenance → Up (``cancelStorageMaintenance``)."""
    require_root(caller, "cancelStorageMaintenance")
    row = get_live(conn, storage_pool, id)
    if row["state"] not in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"):
        raise ParamError(f"Primary storage with id {row['uuid']} is not ready to complete cancel maintenance")
    conn.execute(update(storage_pool).where(storage_pool.c.id == row["id"]).values(state="Up"))
    return _one(conn, row["id"])


def delete_storage_pool(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    forced: bool = False,
    in_use: PoolUsage | None = None,
) -> None:
    """Remove a pool (``deleteStoragePool``).

    Raises:
        ResourceInUseError: volumes still live on it and ``forced`` is not set (536).
    """
    require_root(caller, "deleteStoragePool")
    row = get_live(conn, storage_pool, id)
    if not forced and (row["allocated_bytes"] > 0 or (in_use is not None and in_use(row["uuid"]))):
        raise ResourceInUseError(
            f"Cannot delete pool {row['name']} as there are associated non-destroyed vols for this pool"
        )
    soft_delete(conn, storage_pool, row["id"])


def list_storage_providers(type: str) -> list[Row]:
    """``listStorageProviders``: the providers of ``primary`` or ``image`` storage."""
    kind = type.lower()
    if kind == "primary":
        return [{"name": name, "type": "PRIMARY"} for name in STORAGE_PROVIDERS]
    if kind == "image":
        from provisioner.services.infrastructure.image_stores import IMAGE_PROVIDERS

        return [{"name": name, "type": "IMAGE"} for name in IMAGE_PROVIDERS]
    raise ParamError(f"Invalid storage provider type {type}; it must be primary or image")
