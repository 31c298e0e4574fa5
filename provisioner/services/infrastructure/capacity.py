"""Capacity (``listCapacity``): sums over hosts, pools and image stores, aggregated in SQL.

Nothing is copied into a bookkeeping table: hosts carry what placed VMs hold (``cpu_allocated``,
``memory_allocated``, ``cores_allocated``), pools their used and allocated bytes, image stores their
used bytes. A listing is three grouped statements (hosts, pools, stores) whatever the cloud's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import Connection, Float, Select, case, cast, func, select, update

from provisioner.db.schema import cluster, host, image_store, pod, storage_pool, zone
from provisioner.exceptions import ParamError
from provisioner.services.configuration import scoped_float_expr
from provisioner.services.infrastructure.common import Row, get_live, live, percent, require_root
from provisioner.services.infrastructure.settings import (
    CPU_OVERPROVISIONING,
    MEM_OVERPROVISIONING,
    OVERPROVISIONED_POOL_TYPES,
    STORAGE_OVERPROVISIONING,
)
from provisioner.services.principal import Caller

MEMORY, CPU, STORAGE, STORAGE_ALLOCATED, SECONDARY_STORAGE, LOCAL_STORAGE, CPU_CORE = 0, 1, 2, 3, 6, 9, 90
#: ``Capacity.java`` type codes and the names CloudStack shows for them.
TYPE_NAMES = {
    MEMORY: "MEMORY",
    CPU: "CPU",
    STORAGE: "STORAGE",
    STORAGE_ALLOCATED: "STORAGE_ALLOCATED",
    4: "VIRTUAL_NETWORK_PUBLIC_IP",
    5: "PRIVATE_IP",
    SECONDARY_STORAGE: "SECONDARY_STORAGE",
    7: "VLAN",
    8: "DIRECT_ATTACHED_PUBLIC_IP",
    LOCAL_STORAGE: "LOCAL_STORAGE",
    19: "GPU",
    CPU_CORE: "CPU_CORE",
}
Level = Literal["zone", "pod", "cluster"]


def cpu_factor(cluster_id: Any) -> Any:
    """SQL: the CPU over-provisioning factor of a cluster (column or value)."""
    return scoped_float_expr(CPU_OVERPROVISIONING, "cluster", cluster_id)


def memory_factor(cluster_id: Any) -> Any:
    """SQL: the memory over-provisioning factor of a cluster."""
    return scoped_float_expr(MEM_OVERPROVISIONING, "cluster", cluster_id)


def storage_factor(pool_id: Any, pool_type: Any) -> Any:
    """SQL: a pool's storage over-provisioning factor; 1 for pool types CloudStack never over-provisions."""
    return case(
        (
            pool_type.in_(OVERPROVISIONED_POOL_TYPES),
            scoped_float_expr(STORAGE_OVERPROVISIONING, "storagepool", pool_id),
        ),
        else_=cast(1.0, Float),
    )


def _group_columns(level: Level) -> list[Any]:
    columns = [zone.c.uuid.label("zoneid"), zone.c.name.label("zonename")]
    if level in ("pod", "cluster"):
        columns += [pod.c.uuid.label("podid"), pod.c.name.label("podname")]
    if level == "cluster":
        columns += [cluster.c.uuid.label("clusterid"), cluster.c.name.label("clustername")]
    return columns


def _joined(query: Select[Any], table: Any, level: Level) -> Select[Any]:
    query = query.join(zone, zone.c.id == table.c.zone_id)
    if level in ("pod", "cluster"):
        query = query.outerjoin(pod, pod.c.id == table.c.pod_id)
    if level == "cluster":
        query = query.outerjoin(cluster, cluster.c.id == table.c.cluster_id)
    return query


def _scope(
    query: Select[Any], table: Any, zone_ids: Sequence[int], pod_ids: Sequence[int], cluster_ids: Sequence[int]
) -> Select[Any]:
    if zone_ids:
        query = query.where(table.c.zone_id.in_(zone_ids))
    if pod_ids:
        query = query.where(table.c.pod_id.in_(pod_ids))
    if cluster_ids:
        query = query.where(table.c.cluster_id.in_(cluster_ids))
    return query


def _rows(conn: Connection, query: Select[Any], group: list[Any], specs: Iterable[tuple[int, str, str]]) -> list[Row]:
    result: list[Row] = []
    for m in conn.execute(query.group_by(*group)).mappings():
        ids = {
            key: m[key] for key in ("zoneid", "zonename", "podid", "podname", "clusterid", "clustername") if key in m
        }
        for capacity_type, total_key, used_key in specs:
            total, used = int(m[total_key] or 0), int(m[used_key] or 0)
            result.append(
                {
                    "type": capacity_type,
                    "name": TYPE_NAMES[capacity_type],
                    **ids,
                    "capacitytotal": total,
                    "capacityused": used,
                    "capacityallocated": used,
                    "percentused": percent(used, total),
                }
            )
    return result


def aggregate(
    conn: Connection,
    level: Level = "zone",
    *,
    zone_ids: Sequence[int] = (),
    pod_ids: Sequence[int] = (),
    cluster_ids: Sequence[int] = (),
) -> list[Row]:
    """Capacity rows per zone, pod or cluster (internal ids filter), three statements in all."""
    group = _group_columns(level)
    hosts = select(
        *group,
        func.sum(host.c.memory * memory_factor(host.c.cluster_id)).label("mem_total"),
        func.sum(host.c.memory_allocated).label("mem_used"),
        func.sum(host.c.cpu_cores * host.c.cpu_speed * cpu_factor(host.c.cluster_id)).label("cpu_total"),
        func.sum(host.c.cpu_allocated).label("cpu_used"),
        func.sum(host.c.cpu_cores).label("cores_total"),
        func.sum(host.c.cores_allocated).label("cores_used"),
    ).where(live(host), host.c.type == "Routing")
    hosts = _scope(_joined(hosts, host, level), host, zone_ids, pod_ids, cluster_ids)
    rows = _rows(
        conn,
        hosts,
        group,
        ((MEMORY, "mem_total", "mem_used"), (CPU, "cpu_total", "cpu_used"), (CPU_CORE, "cores_total", "cores_used")),
    )
    is_local = storage_pool.c.scope == "HOST"
    pools = select(
        *group,
        func.sum(case((is_local, 0), else_=storage_pool.c.capacity_bytes)).label("shared_total"),
        func.sum(case((is_local, 0), else_=storage_pool.c.used_bytes)).label("shared_used"),
        func.sum(storage_pool.c.capacity_bytes * storage_factor(storage_pool.c.id, storage_pool.c.pool_type)).label(
            "alloc_total"
        ),
        func.sum(storage_pool.c.allocated_bytes).label("alloc_used"),
        func.sum(case((is_local, storage_pool.c.capacity_bytes), else_=0)).label("local_total"),
        func.sum(case((is_local, storage_pool.c.used_bytes), else_=0)).label("local_used"),
    ).where(live(storage_pool))
    pools = _scope(_joined(pools, storage_pool, level), storage_pool, zone_ids, pod_ids, cluster_ids)
    rows += _rows(
        conn,
        pools,
        group,
        (
            (STORAGE, "shared_total", "shared_used"),
            (STORAGE_ALLOCATED, "alloc_total", "alloc_used"),
            (LOCAL_STORAGE, "local_total", "local_used"),
        ),
    )
    if not pod_ids and not cluster_ids:
        # Image stores are zone-wide: they have no pod or cluster to group by.
        zone_group = _group_columns("zone")
        stores = select(
            *zone_group,
            func.sum(image_store.c.capacity_bytes).label("sec_total"),
            func.sum(image_store.c.used_bytes).label("sec_used"),
        ).where(live(image_store))
        stores = _scope(_joined(stores, image_store, "zone"), image_store, zone_ids, (), ())
        rows += _rows(conn, stores, zone_group, ((SECONDARY_STORAGE, "sec_total", "sec_used"),))
    return rows


def capacities_by_zone(conn: Connection, zone_ids: Sequence[int]) -> dict[str, list[Row]]:
    """``showcapacities=true`` for a page of zones: capacity rows keyed by zone UUID."""
    result: dict[str, list[Row]] = {}
    for row in aggregate(conn, "zone", zone_ids=zone_ids):
        result.setdefault(row["zoneid"], []).append(row)
    return result


def list_capacity(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str | None = None,
    podid: str | None = None,
    clusterid: str | None = None,
    type: int | None = None,
    sortby: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """``listCapacity``: per zone, or per pod / cluster when ``podid`` / ``clusterid`` is given.

    Rows with a zero total are left out, as CloudStack leaves out capacities nothing provides.
    ``sortby=usage`` orders by ``percentused``, highest first.
    """
    require_root(caller, "listCapacity")
    if sortby is not None and sortby.lower() != "usage":
        raise ParamError(f"Invalid sortby {sortby}; only 'usage' is supported")
    zone_ids = [get_live(conn, zone, zoneid, "zoneid")["id"]] if zoneid else []
    pod_ids = [get_live(conn, pod, podid, "podid")["id"]] if podid else []
    cluster_ids = [get_live(conn, cluster, clusterid, "clusterid")["id"]] if clusterid else []
    level: Level = "cluster" if cluster_ids else "pod" if pod_ids else "zone"
    rows = [
        row
        for row in aggregate(conn, level, zone_ids=zone_ids, pod_ids=pod_ids, cluster_ids=cluster_ids)
        if row["capacitytotal"] and (type is None or row["type"] == type)
    ]
    if sortby:
        rows.sort(key=lambda row: -float(row["percentused"]))
    else:
        rows.sort(
            key=lambda row: (row["zonename"], row.get("podname") or "", row.get("clustername") or "", row["type"])
        )
    total = len(rows)
    if pagesize:
        start = pagesize * ((page or 1) - 1)
        rows = rows[start : start + pagesize]
    return rows, total


def adjust_host_allocation(
    conn: Connection, host_id: int, *, cpu_mhz: int = 0, cores: int = 0, memory: int = 0
) -> None:
    """Add (or, with negative values, release) what a VM holds on a host; the allocator calls this."""
    conn.execute(
        update(host)
        .where(host.c.id == host_id)
        .values(
            cpu_allocated=host.c.cpu_allocated + cpu_mhz,
            cores_allocated=host.c.cores_allocated + cores,
            memory_allocated=host.c.memory_allocated + memory,
        )
    )


def adjust_pool_usage(conn: Connection, pool_id: int, *, allocated: int = 0, used: int = 0) -> None:
    """Add (or release) the bytes volumes reserve (``allocated``) and occupy (``used``) on a pool."""
    conn.execute(
        update(storage_pool)
        .where(storage_pool.c.id == pool_id)
        .values(
            allocated_bytes=storage_pool.c.allocated_bytes + allocated,
            used_bytes=storage_pool.c.used_bytes + used,
        )
    )
