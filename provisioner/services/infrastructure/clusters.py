"""Clusters (``addCluster``, ``updateCluster``, ``listClusters``, ``deleteCluster``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import cluster, host, pod, storage_pool, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.configuration import set_scoped_value
from provisioner.services.infrastructure import capacity
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    exists,
    forget_zone_kind,
    get_live,
    ratio_text,
    require_root,
    soft_delete,
)
from provisioner.services.infrastructure.settings import CPU_OVERPROVISIONING, MEM_OVERPROVISIONING
from provisioner.services.infrastructure.zones import ALLOCATION_STATES, canonical
from provisioner.services.principal import Caller

#: ``Hypervisor.HypervisorType`` names, in CloudStack's spelling.
HYPERVISORS = ("XenServer", "KVM", "VMware", "Hyperv", "BareMetal", "Simulator", "Ovm", "Ovm3", "LXC", "External")
CLUSTER_TYPES = ("CloudManaged", "ExternalManaged")
MANAGED_STATES = ("Managed", "Unmanaged", "PrepareUnmanaged", "PrepareUnmanagedError")


def hypervisor_name(value: str) -> str:
    """A hypervisor type in CloudStack's spelling (``kvm`` → ``KVM``, ``vmware`` → ``VMware``).

    Raises:
        ParamError: not a hypervisor CloudStack knows (431).
    """
    for choice in HYPERVISORS:
        if choice.lower() == value.strip().lower():
            return choice
    raise ParamError(f"Unable to resolve Hypervisor type: {value}")


def cluster_row(m: RowMapping) -> Row:
    """A cluster row joined with zone/pod names and its factors, as ``ClusterResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "podid": m["pod_uuid"],
        "podname": m["pod_name"],
        "hypervisortype": m["hypervisor_type"],
        "clustertype": m["cluster_type"],
        "allocationstate": m["allocation_state"],
        "managedstate": m["managed_state"],
        "cpuovercommitratio": ratio_text(m["cpu_ratio"]),
        "memoryovercommitratio": ratio_text(m["mem_ratio"]),
        "arch": "x86_64",
        "created": m["created"],
    }


def _select() -> Any:
    return (
        select(
            cluster,
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            pod.c.uuid.label("pod_uuid"),
            pod.c.name.label("pod_name"),
            capacity.cpu_factor(cluster.c.id).label("cpu_ratio"),
            capacity.memory_factor(cluster.c.id).label("mem_ratio"),
        )
        .join(zone, zone.c.id == cluster.c.zone_id)
        .join(pod, pod.c.id == cluster.c.pod_id)
    )


def _one(conn: Connection, cluster_id: int) -> Row:
    return cluster_row(conn.execute(_select().where(cluster.c.id == cluster_id)).mappings().one())


def _set_ratios(conn: Connection, cluster_id: int, cpu: float | None, memory: float | None) -> None:
    for name, value in ((CPU_OVERPROVISIONING, cpu), (MEM_OVERPROVISIONING, memory)):
        if value is None:
            continue
        if value < 1:
            raise ParamError(f"Over-commit ratio {value} for {name} must be greater than or equal to 1")
        set_scoped_value(conn, name, str(float(value)), "cluster", cluster_id)


def add_cluster(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str,
    podid: str,
    clustername: str,
    hypervisor: str,
    clustertype: str = "CloudManaged",
    allocationstate: str | None = None,
    url: str | None = None,
    cpuovercommitratio: float | None = None,
    memoryovercommitratio: float | None = None,
) -> list[Row]:
    """Add a cluster to a pod (``addCluster``); CloudStack answers with a one-element list.

    Raises:
        ParamError: unknown zone/pod, a pod of another zone, bad hypervisor/type, or a duplicate name.
    """
    require_root(caller, "addCluster")
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    pod_row = get_live(conn, pod, podid, "podid")
    if pod_row["zone_id"] != zone_row["id"]:
        raise ParamError(f"Pod {pod_row['name']} does not belong to zone {zone_row['name']}")
    hypervisor_type = hypervisor_name(hypervisor)
    kind = canonical(clustertype, CLUSTER_TYPES, "cluster type")
    if hypervisor_type == "VMware" and not url:
        raise ParamError("Unable to execute API command addcluster due to missing parameter url")
    if exists(conn, cluster, cluster.c.pod_id == pod_row["id"], cluster.c.name == clustername):
        raise ParamError(f"A cluster with name {clustername} already exists in pod {pod_row['name']}")
    new_id = conn.execute(
        insert(cluster).values(
            name=clustername,
            zone_id=zone_row["id"],
            pod_id=pod_row["id"],
            hypervisor_type=hypervisor_type,
            cluster_type=kind,
            allocation_state=canonical(allocationstate or "Enabled", ALLOCATION_STATES, "allocation state"),
            url=url,
        )
    ).inserted_primary_key
    assert new_id is not None
    forget_zone_kind(conn, zone_row["id"])
    _set_ratios(conn, new_id[0], cpuovercommitratio, memoryovercommitratio)
    return [_one(conn, new_id[0])]


def update_cluster(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    clustername: str | None = None,
    allocationstate: str | None = None,
    managedstate: str | None = None,
    cpuovercommitratio: float | None = None,
    memoryovercommitratio: float | None = None,
) -> Row:
    """Change a cluster (``updateCluster``); the ratios become cluster-scoped settings."""
    require_root(caller, "updateCluster")
    row = get_live(conn, cluster, id)
    values: dict[str, Any] = {}
    if clustername is not None and clustername != row["name"]:
        if exists(conn, cluster, cluster.c.pod_id == row["pod_id"], cluster.c.name == clustername):
            raise ParamError(f"A cluster with name {clustername} already exists in this pod")
        values["name"] = clustername
    if allocationstate is not None:
        values["allocation_state"] = canonical(allocationstate, ALLOCATION_STATES, "allocation state")
    if managedstate is not None:
        values["managed_state"] = canonical(managedstate, MANAGED_STATES, "managed state")
    if values:
        conn.execute(update(cluster).where(cluster.c.id == row["id"]).values(**values))
    _set_ratios(conn, row["id"], cpuovercommitratio, memoryovercommitratio)
    return _one(conn, row["id"])


def list_clusters(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    podid: str | None = None,
    hypervisor: str | None = None,
    clustertype: str | None = None,
    allocationstate: str | None = None,
    managedstate: str | None = None,
    showcapacities: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List clusters (``listClusters``), root admin only."""
    require_root(caller, "listClusters")
    conditions = common_filters(cluster, id=id, ids=ids, name=name, keyword=keyword)
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.lower())
    if podid:
        conditions.append(pod.c.uuid == podid.lower())
    if hypervisor:
        conditions.append(cluster.c.hypervisor_type == hypervisor_name(hypervisor))
    if clustertype:
        conditions.append(cluster.c.cluster_type == canonical(clustertype, CLUSTER_TYPES, "cluster type"))
    if allocationstate:
        conditions.append(
            cluster.c.allocation_state == canonical(allocationstate, ALLOCATION_STATES, "allocation state")
        )
    if managedstate:
        conditions.append(cluster.c.managed_state == canonical(managedstate, MANAGED_STATES, "managed state"))
    rows, total = list_page(conn, _select().where(*conditions), [cluster.c.id], page, pagesize)
    result = [cluster_row(m) for m in rows]
    if showcapacities and rows:
        per_cluster: dict[str, list[Row]] = {}
        for item in capacity.aggregate(conn, "cluster", cluster_ids=[m["id"] for m in rows]):
            per_cluster.setdefault(item["clusterid"], []).append(item)
        for item in result:
            item["capacity"] = per_cluster.get(item["id"], [])
    return result, total


def delete_cluster(conn: Connection, caller: Caller, id: str) -> None:
    """Delete a cluster without hosts or pools (``deleteCluster``).

    Raises:
        ResourceInUseError: hosts or cluster-scoped pools remain (536).
    """
    require_root(caller, "deleteCluster")
    row = get_live(conn, cluster, id)
    if exists(conn, host, host.c.cluster_id == row["id"]):
        raise ResourceInUseError(f"Cluster: {row['uuid']} cannot be deleted: hosts exist in this cluster")
    if exists(conn, storage_pool, storage_pool.c.cluster_id == row["id"]):
        raise ResourceInUseError(f"Cluster: {row['uuid']} cannot be deleted: primary storage pools exist in it")
    soft_delete(conn, cluster, row["id"])
    forget_zone_kind(conn, row["zone_id"])
