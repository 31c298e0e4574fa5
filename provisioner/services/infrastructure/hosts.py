"""Hosts (``addHost``, ``listHosts``, ``updateHost``, ``deleteHost``); maintenance lives in ``host_states``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from provisioner.db.schema import cluster, host, host_tag, mshost, pod, storage_pool, utcnow, zone
from provisioner.exceptions import DriverError, InternalError, ParamError
from provisioner.services.common import list_page
from provisioner.services.crypto import SecretBox
from provisioner.services.infrastructure import capacity
from provisioner.services.infrastructure.clusters import add_cluster, hypervisor_name
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    decimal_text,
    exists,
    get_live,
    percent,
    replace_tags,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.connectors import (
    DRIVER_FOR_HYPERVISOR,
    HostConnector,
    HostConnectRequest,
    driver_uri,
    registry_connector,
)
from provisioner.services.principal import Caller

#: Host columns a listing never shows: driver internals and credentials (and JSON costs a parse per row).
_NOT_LISTED = frozenset({"driver_settings", "credential", "username", "removed"})
HOST_TYPES = ("Routing", "Storage", "SecondaryStorage", "SecondaryStorageVM", "ConsoleProxy", "ExternalFirewall")


def _pct(part: float, whole: float) -> str:
    return percent(part, whole) + "%"


def host_row(m: RowMapping) -> Row:
    """A host row joined with its zone, pod, cluster, owner node and factors, as ``HostResponse``."""
    total_cpu = m["cpu_cores"] * m["cpu_speed"]
    cpu_over = total_cpu * float(m["cpu_ratio"])
    mem_over = m["memory"] * float(m["mem_ratio"])
    cpu_allocated = _pct(m["cpu_allocated"], total_cpu)
    return {
        "id": m["uuid"],
        "name": m["name"],
        "type": m["type"],
        "state": m["status"],
        "resourcestate": m["resource_state"],
        "hypervisor": m["hypervisor_type"],
        "hypervisorversion": m["hypervisor_version"],
        "ipaddress": m["private_ip"],
        "arch": m["arch"],
        "cpusockets": m["cpu_sockets"],
        "cpunumber": m["cpu_cores"],
        "cpuspeed": m["cpu_speed"],
        "cpuallocated": cpu_allocated,
        "cpuallocatedvalue": m["cpu_allocated"],
        "cpuallocatedpercentage": cpu_allocated,
        "cpuallocatedwithoverprovisioning": _pct(m["cpu_allocated"], cpu_over),
        "cpuused": "0%",
        "cpuwithoverprovisioning": decimal_text(cpu_over),
        "memorytotal": m["memory"],
        "memoryallocated": m["memory_allocated"],
        "memoryallocatedbytes": m["memory_allocated"],
        "memoryallocatedpercentage": _pct(m["memory_allocated"], m["memory"]),
        "memoryused": m["memory_allocated"],
        "memorywithoverprovisioning": decimal_text(mem_over),
        "hosttags": m["tags"],
        "capabilities": m["capabilities"],
        "lastpinged": m["last_ping"],
        "disconnected": m["disconnected"],
        "managementserverid": m["mshost_uuid"],
        "clusterid": m["cluster_uuid"],
        "clustername": m["cluster_name"],
        "clustertype": m["cluster_type"],
        "podid": m["pod_uuid"],
        "podname": m["pod_name"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "islocalstorageactive": False,
        "haenable": False,
        "created": m["created"],
        "events": "AgentConnected; AgentDisconnected; HostDown; ManagementServerDown; Ping; PingTimeout; Remove",
    }


def host_select() -> Any:
    """The one statement a host listing needs: host, zone, pod, cluster, owner node and factors."""
    return (
        select(
            *(column for column in host.c if column.name not in _NOT_LISTED),
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            pod.c.uuid.label("pod_uuid"),
            pod.c.name.label("pod_name"),
            cluster.c.uuid.label("cluster_uuid"),
            cluster.c.name.label("cluster_name"),
            cluster.c.cluster_type.label("cluster_type"),
            mshost.c.uuid.label("mshost_uuid"),
            capacity.cpu_factor(host.c.cluster_id).label("cpu_ratio"),
            capacity.memory_factor(host.c.cluster_id).label("mem_ratio"),
        )
        .join(zone, zone.c.id == host.c.zone_id)
        .outerjoin(pod, pod.c.id == host.c.pod_id)
        .outerjoin(cluster, cluster.c.id == host.c.cluster_id)
        .outerjoin(mshost, mshost.c.msid == host.c.mshost_id)
    )


def one_host(conn: Connection, host_id: int) -> Row:
    """The response row of one host by internal id."""
    return host_row(conn.execute(host_select().where(host.c.id == host_id)).mappings().one())


def set_host_tags(conn: Connection, host_id: int, tags: Sequence[str]) -> None:
    """Replace a host's tags (the ``host_tag`` rows and the display copy)."""
    replace_tags(conn, host, host_id, host_tag.c.host_id, tags)


def _cluster_for(
    conn: Connection,
    caller: Caller,
    *,
    zone_row: RowMapping,
    pod_row: RowMapping,
    hypervisor: str,
    clusterid: str | None,
    clustername: str | None,
) -> RowMapping:
    if clusterid:
        return get_live(conn, cluster, clusterid, "clusterid")
    if not clustername:
        raise ParamError("Unable to execute API command addhost due to missing parameter clusterid or clustername")
    found = (
        conn.execute(
            select(cluster).where(
                cluster.c.pod_id == pod_row["id"], cluster.c.name == clustername, cluster.c.removed.is_(None)
            )
        )
        .mappings()
        .first()
    )
    if found is not None:
        return found
    # CloudStack creates the named cluster on the fly.
    created = add_cluster(
        conn, caller, zoneid=zone_row["uuid"], podid=pod_row["uuid"], clustername=clustername, hypervisor=hypervisor
    )
    return get_live(conn, cluster, created[0]["id"], "clusterid")


def _address(url: str) -> str | None:
    try:
        return str(ipaddress.ip_address(urlsplit(url).hostname or ""))
    except ValueError:
        return None


def _simulated_address(conn: Connection, pod_row: RowMapping) -> str | None:
    """An address of the pod's management range for a simulated host, as CloudStack's ``MockAgentManagerImpl``
    gives one (clients such as ``cs_host`` match hosts by ``ipaddress``); the n-th host ever added gets the n-th."""
    if pod_row["start_ip"] is None:
        return None
    added = conn.execute(select(func.count()).select_from(host).where(host.c.pod_id == pod_row["id"])).scalar_one()
    candidate = ipaddress.IPv4Address(pod_row["start_ip"]) + int(added)
    return str(candidate) if candidate <= ipaddress.IPv4Address(pod_row["end_ip"]) else None


def _credential(password: str | None, reference: str | None, box: SecretBox | None) -> str | None:
    """What the ``credential`` column keeps: a reference, a SecretBox token, or nothing."""
    if reference is not None:
        kind, _, target = reference.partition(":")
        if kind not in ("env", "file", "vault") or not target:
            raise ParamError(f"Invalid credential reference {reference!r}; use env:NAME, file:/path or vault:NAME")
        return reference
    return "enc:" + box.encrypt(password) if password and box is not None else None


def add_host(
    conn: Connection,
    caller: Caller,
    *,
    zoneid: str,
    podid: str,
    url: str,
    hypervisor: str,
    clusterid: str | None = None,
    clustername: str | None = None,
    username: str | None = None,
    password: str | None = None,
    password_ref: str | None = None,
    hosttags: str | Sequence[str] | None = None,
    allocationstate: str | None = None,
    connector: HostConnector = registry_connector,
    box: SecretBox | None = None,
    msid: int | None = None,
    driver_settings: Mapping[str, Any] | None = None,
) -> list[Row]:
    """Add a hypervisor host (``addHost``), connecting through ``connector``; answers a one-element list.

    With the default connector a ``Simulator`` cluster's ``http://sim/<cluster>/<host>`` host comes
    ``Up`` at once with CloudStack's simulator defaults (4 cores x 8000 MHz, 8 GiB) unless the URL
    says otherwise (``cpucore=..&cpuspeed=..&memory=..``).

    Args:
        conn: the connection.
        caller: must be a root admin.
        zoneid: the zone's UUID.
        podid: the pod's UUID (in that zone).
        url: where the host is.
        hypervisor: the hypervisor type; must match the cluster's.
        clusterid: the cluster's UUID, or
        clustername: a cluster name in the pod (created when missing).
        username: login for the host.
        password: never stored in clear: encrypted with ``box`` when one is given, otherwise dropped.
        password_ref: where the password lives instead (``env:NAME``, ``file:/path``, ``vault:NAME``, as
            the topology's credential references); stored as the reference.
        hosttags: comma-separated or a list.
        allocationstate: ``Enable`` or ``Disable`` (default enabled).
        connector: reaches the host and reports its facts.
        box: encrypts the password for storage.
        msid: the management server node that now owns the host connection.
        driver_settings: settings for the compute driver.

    Raises:
        ParamError: unknown ids, mismatched pod/zone or hypervisor, or the URL is known already.
        InternalError: the host could not be reached (530, as CloudStack's ``DiscoveryException``).
    """
    require_root(caller, "addHost")
    credential = _credential(password, password_ref, box)
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    pod_row = get_live(conn, pod, podid, "podid")
    if pod_row["zone_id"] != zone_row["id"]:
        raise ParamError(f"Pod {pod_row['name']} does not belong to zone {zone_row['name']}")
    hypervisor_type = hypervisor_name(hypervisor)
    cluster_row = _cluster_for(
        conn,
        caller,
        zone_row=zone_row,
        pod_row=pod_row,
        hypervisor=hypervisor_type,
        clusterid=clusterid,
        clustername=clustername,
    )
    if cluster_row["pod_id"] != pod_row["id"]:
        raise ParamError(f"Cluster {cluster_row['name']} does not belong to pod {pod_row['name']}")
    if cluster_row["hypervisor_type"] != hypervisor_type:
        raise ParamError(
            f"Can't add host whose hypervisor type is: {hypervisor_type} into cluster: {cluster_row['uuid']} "
            f"whose hypervisor type is: {cluster_row['hypervisor_type']}"
        )
    if exists(conn, host, host.c.url == url):
        raise ParamError(f"Host with url {url} already exists")
    driver = DRIVER_FOR_HYPERVISOR.get(hypervisor_type, hypervisor_type.lower())
    request = HostConnectRequest(
        url=url,
        hypervisor=hypervisor_type,
        driver=driver,
        driver_uri=driver_uri(hypervisor_type, url, username),
        username=username,
        password=password,
        settings=dict(driver_settings or {}),
    )
    try:
        facts = connector(request)
    except DriverError as exc:
        raise InternalError(f"Unable to add the host: {exc}") from exc
    enabled = (allocationstate or "Enable").lower() in ("enable", "enabled")
    now = utcnow()
    new_id = conn.execute(
        insert(host).values(
            name=facts.hostname,
            type="Routing",
            status="Up",
            resource_state="Enabled" if enabled else "Disabled",
            hypervisor_type=hypervisor_type,
            hypervisor_version=facts.hypervisor_version,
            private_ip=_address(url) or (_simulated_address(conn, pod_row) if hypervisor_type == "Simulator" else None),
            url=url,
            cpu_sockets=facts.cpu_sockets,
            cpu_cores=facts.cpu_cores,
            cpu_speed=facts.cpu_mhz,
            memory=facts.memory_bytes,
            arch=facts.arch,
            capabilities=",".join(sorted(facts.capabilities)) or None,
            zone_id=zone_row["id"],
            pod_id=pod_row["id"],
            cluster_id=cluster_row["id"],
            last_ping=now,
            mshost_id=msid,
            driver=driver,
            driver_settings=dict(driver_settings or {}),
            username=username,
            credential=credential,
        )
    ).inserted_primary_key
    assert new_id is not None
    set_host_tags(conn, new_id[0], split_csv(hosttags))
    return [one_host(conn, new_id[0])]


def list_hosts(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    type: str | None = None,
    state: str | None = None,
    resourcestate: str | None = None,
    zoneid: str | None = None,
    podid: str | None = None,
    clusterid: str | None = None,
    hypervisor: str | None = None,
    hosttags: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List hosts (``listHosts``), root admin only; two statements at most, whatever the page size."""
    require_root(caller, "listHosts")
    conditions = common_filters(host, id=id, ids=ids, name=name, keyword=keyword)
    for value, column in ((type, host.c.type), (state, host.c.status), (resourcestate, host.c.resource_state)):
        if value:
            conditions.append(column == value)
    for value, column in ((zoneid, host.c.zone_id), (podid, host.c.pod_id), (clusterid, host.c.cluster_id)):
        if value:
            table = {host.c.zone_id: zone, host.c.pod_id: pod, host.c.cluster_id: cluster}[column]
            conditions.append(column == select(table.c.id).where(table.c.uuid == value.lower()).scalar_subquery())
    if hypervisor:
        conditions.append(host.c.hypervisor_type == hypervisor_name(hypervisor))
    if hosttags:
        conditions.append(host.c.id.in_(select(host_tag.c.host_id).where(host_tag.c.tag.in_(split_csv(hosttags)))))
    keys = select(host.c.id).where(*conditions)
    rows, total = list_page(conn, host_select().where(*conditions), [host.c.id], page, pagesize, keys=keys)
    return [host_row(m) for m in rows], total


def update_host(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    allocationstate: str | None = None,
    hosttags: str | Sequence[str] | None = None,
    name: str | None = None,
) -> Row:
    """Change a host (``updateHost``): ``allocationstate`` Enable/Disable, tags, name.

    Raises:
        ParamError: unknown host, bad allocation state, or enabling/disabling a host in maintenance.
    """
    require_root(caller, "updateHost")
    row = get_live(conn, host, id)
    values: dict[str, Any] = {}
    if allocationstate is not None:
        wanted = {"enable": "Enabled", "disable": "Disabled"}.get(allocationstate.lower())
        if wanted is None:
            raise ParamError(f"Invalid allocation state {allocationstate}; it must be Enable or Disable")
        if row["resource_state"] not in ("Enabled", "Disabled"):
            raise ParamError(
                f"Cannot transit resource state of host {row['uuid']} from {row['resource_state']} to {wanted}"
            )
        values["resource_state"] = wanted
    if name:
        values["name"] = name
    if values:
        conn.execute(update(host).where(host.c.id == row["id"]).values(**values))
    if hosttags is not None:
        set_host_tags(conn, row["id"], split_csv(hosttags))
    return one_host(conn, row["id"])


def delete_host(conn: Connection, caller: Caller, id: str, *, forced: bool = False) -> None:
    """Remove a host (``deleteHost``); it must be in maintenance unless ``forced``.

    Its local storage pools go with it.

    Raises:
        InternalError: the host is not in maintenance (530, CloudStack's text).
    """
    require_root(caller, "deleteHost")
    row = get_live(conn, host, id)
    if not forced and row["resource_state"] != "Maintenance":
        raise InternalError(
            f"Host {row['uuid']} cannot be deleted as it is not in maintenance mode. Either put the host into "
            "maintenance or perform a forced deletion."
        )
    conn.execute(
        update(storage_pool)
        .where(storage_pool.c.host_id == row["id"], storage_pool.c.removed.is_(None))
        .values(removed=utcnow(), state="Removed")
    )
    conn.execute(update(host).where(host.c.id == row["id"]).values(status="Removed", resource_state="Disabled"))
    conn.execute(delete(host_tag).where(host_tag.c.host_id == row["id"]))
    soft_delete(conn, host, row["id"])
