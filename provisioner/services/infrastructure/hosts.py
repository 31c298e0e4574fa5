"""Hosts (``addHost``, ``listHosts``, ``updateHost``, ``deleteHost``); maintenance lives in ``host_states``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    RowMapping,
    Select,
    String,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from provisioner.db.schema import (
    async_job,
    cluster,
    configuration,
    host,
    host_tag,
    mshost,
    pod,
    storage_pool,
    utcnow,
    zone,
)
from provisioner.exceptions import DriverError, InternalError, ParamError
from provisioner.services.common import DEFAULT_PAGE_SIZE, paginate
from provisioner.services.configuration import default_float
from provisioner.services.crypto import SecretBox
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
from provisioner.services.infrastructure.settings import CPU_OVERPROVISIONING, MEM_OVERPROVISIONING
from provisioner.services.principal import Caller

HOST_TYPES = ("Routing", "Storage", "SecondaryStorage", "SecondaryStorageVM", "ConsoleProxy", "ExternalFirewall")
#: The ``events`` field of every host, as CloudStack lists the host state machine's events.
_EVENTS = "AgentConnected; AgentDisconnected; HostDown; ManagementServerDown; Ping; PingTimeout; Remove"
_CPU_SCOPED = configuration.alias("cpu_scoped")
_MEM_SCOPED = configuration.alias("mem_scoped")


@lru_cache(maxsize=4096)
def _pct(part: float, whole: float) -> str:
    # Hosts of one hardware model repeat the same figures page after page: format each pair once.
    return percent(part, whole) + "%"


@lru_cache(maxsize=4096)
def _decimal(value: float) -> str:
    return decimal_text(value)


def _factor(scoped: Any, name: str) -> Any:
    """SQL: a cluster's over-provisioning factor from the outer-joined cluster-scoped row, else the global one."""
    global_ = select(configuration.c.value).where(configuration.c.name == name, configuration.c.scope_id == 0)
    return func.coalesce(
        cast(scoped.c.value, Float),
        cast(global_.limit(1).scalar_subquery(), Float),
        literal(default_float(name), Float),
    )


def _scoped_join(scoped: Any, name: str) -> Any:
    return and_(scoped.c.name == name, scoped.c.scope == "cluster", scoped.c.scope_id == host.c.cluster_id)


class wire_date(FunctionElement[str]):
    """SQL: a timestamp as CloudStack's wire text (``2024-05-01T10:00:00+0000``, UTC, seconds); NULL stays NULL.

    The database formats it, so a page's dates are neither parsed into datetimes nor formatted back in Python.
    """

    type = String()
    inherit_cache = True


@compiles(wire_date, "sqlite")
def _wire_date_sqlite(element: wire_date, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return str(compiler.process(func.strftime("%Y-%m-%dT%H:%M:%S+0000", column), **kw))


@compiles(wire_date)
def _wire_date_postgresql(element: wire_date, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return str(compiler.process(func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS"+0000"'), **kw))


#: The newest job still running per host (maintenance, reconnect): CloudStack shows it as ``jobid``/``jobstatus``.
_PENDING = (
    select(async_job.c.instance_id, func.max(async_job.c.uuid).label("jobid"))
    .where(async_job.c.status == 0, async_job.c.instance_type == "Host")
    .group_by(async_job.c.instance_id)
    .subquery("pending")
)

#: What a host listing reads, in the order :func:`host_row` unpacks it: no driver settings or credentials, and
#: the cluster's factors from two outer joins on the unique (name, scope, scope_id) index rather than four
#: correlated subqueries per row.
_LISTED = (
    host.c.id,
    host.c.uuid,
    host.c.name,
    host.c.type,
    host.c.status,
    host.c.resource_state,
    host.c.hypervisor_type,
    host.c.hypervisor_version,
    host.c.private_ip,
    host.c.arch,
    host.c.cpu_sockets,
    host.c.cpu_cores,
    host.c.cpu_speed,
    host.c.cpu_allocated,
    host.c.memory,
    host.c.memory_allocated,
    host.c.tags,
    host.c.capabilities,
    wire_date(host.c.last_ping),
    wire_date(host.c.disconnected),
    wire_date(host.c.created),
    mshost.c.uuid,
    cluster.c.uuid,
    cluster.c.name,
    cluster.c.cluster_type,
    pod.c.uuid,
    pod.c.name,
    zone.c.uuid,
    zone.c.name,
    _factor(_CPU_SCOPED, CPU_OVERPROVISIONING),
    _factor(_MEM_SCOPED, MEM_OVERPROVISIONING),
    _PENDING.c.jobid,
)


def host_row(values: Sequence[Any]) -> Row:
    """A row of :func:`host_select` as ``HostResponse`` fields; ``None`` fields are left out, as the wire does."""
    (
        _id,
        uuid,
        name,
        type_,
        status,
        resource_state,
        hypervisor_type,
        hypervisor_version,
        private_ip,
        arch,
        cpu_sockets,
        cpu_cores,
        cpu_speed,
        cpu_allocated,
        memory,
        memory_allocated,
        tags,
        capabilities,
        last_ping,
        disconnected,
        created,
        mshost_uuid,
        cluster_uuid,
        cluster_name,
        cluster_type,
        pod_uuid,
        pod_name,
        zone_uuid,
        zone_name,
        cpu_ratio,
        mem_ratio,
        jobid,
    ) = values
    total_cpu = cpu_cores * cpu_speed
    cpu_over = total_cpu * cpu_ratio
    allocated = _pct(cpu_allocated, total_cpu)
    row: Row = {
        "id": uuid,
        "name": name,
        "type": type_,
        "state": status,
        "resourcestate": resource_state,
        "hypervisor": hypervisor_type,
        "hypervisorversion": hypervisor_version,
        "ipaddress": private_ip,
        "arch": arch,
        "cpusockets": cpu_sockets,
        "cpunumber": cpu_cores,
        "cpuspeed": cpu_speed,
        "cpuallocated": allocated,
        "cpuallocatedvalue": cpu_allocated,
        "cpuallocatedpercentage": allocated,
        "cpuallocatedwithoverprovisioning": _pct(cpu_allocated, cpu_over),
        "cpuused": "0%",
        "cpuwithoverprovisioning": _decimal(cpu_over),
        "memorytotal": memory,
        "memoryallocated": memory_allocated,
        "memoryallocatedbytes": memory_allocated,
        "memoryallocatedpercentage": _pct(memory_allocated, memory),
        "memoryused": memory_allocated,
        "memorywithoverprovisioning": _decimal(memory * mem_ratio),
        "hosttags": tags,
        "capabilities": capabilities,
        "lastpinged": last_ping,
        "disconnected": disconnected,
        "managementserverid": mshost_uuid,
        "clusterid": cluster_uuid,
        "clustername": cluster_name,
        "clustertype": cluster_type,
        "podid": pod_uuid,
        "podname": pod_name,
        "zoneid": zone_uuid,
        "zonename": zone_name,
        "islocalstorageactive": False,
        "haenable": False,
        "created": created,
        "events": _EVENTS,
    }
    if jobid is not None:
        row["jobid"], row["jobstatus"] = jobid, 0
    for key in _OPTIONAL:
        if row[key] is None:
            del row[key]
    return row


#: The fields of :func:`host_row` that may be ``None``.
_OPTIONAL = (
    "hypervisorversion",
    "ipaddress",
    "arch",
    "cpusockets",
    "hosttags",
    "capabilities",
    "lastpinged",
    "disconnected",
    "managementserverid",
    "clusterid",
    "clustername",
    "clustertype",
    "podid",
    "podname",
    "created",
)


@cache
def host_select() -> Select[Any]:
    """The one statement a host listing needs: host, zone, pod, cluster, owner node and factors.

    Built once, as statements are immutable (``where`` returns a new one): a request then only adds its filters.
    """
    return select(*_LISTED).select_from(
        host.join(zone, zone.c.id == host.c.zone_id)
        .outerjoin(pod, pod.c.id == host.c.pod_id)
        .outerjoin(cluster, cluster.c.id == host.c.cluster_id)
        .outerjoin(mshost, mshost.c.msid == host.c.mshost_id)
        .outerjoin(_CPU_SCOPED, _scoped_join(_CPU_SCOPED, CPU_OVERPROVISIONING))
        .outerjoin(_MEM_SCOPED, _scoped_join(_MEM_SCOPED, MEM_OVERPROVISIONING))
        .outerjoin(_PENDING, _PENDING.c.instance_id == host.c.uuid)
    )


def one_host(conn: Connection, host_id: int) -> Row:
    """The response row of one host by internal id."""
    return host_row(conn.execute(host_select().where(host.c.id == host_id)).one())


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
    return host_page(conn, conditions, page, pagesize)


def host_page(
    conn: Connection, conditions: Sequence[ColumnElement[bool]], page: int | None, pagesize: int | None
) -> tuple[list[Row], int]:
    """One page of hosts matching ``conditions`` (over ``host`` alone) and their total, in one statement.

    The page is a range of the primary key, ``id >= <first id of the page> ORDER BY id LIMIT size``, so both
    databases walk the key index from the page's first row and join only the rows they return (a deep page
    skips its offset in the index, without joins). The total rides along as an uncorrelated subquery,
    evaluated once; only a page past the end needs another statement to count.
    """
    query = host_select().where(*conditions).order_by(host.c.id)
    if conn.dialect.name == "postgresql":
        # The joins are written in the order to run them (host drives, the rest are key lookups); searching all
        # orders of seven relations costs PostgreSQL more time planning (3-4 ms) than running the page does.
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
    if page is None and pagesize is None:
        rows = [host_row(values) for values in conn.execute(query).all()]
        return rows, len(rows)
    keys = paginate(select(host.c.id).where(*conditions).order_by(host.c.id), page, pagesize)  # checks both
    size = pagesize or DEFAULT_PAGE_SIZE
    offset = ((page or 1) - 1) * size
    if offset:
        first = keys.limit(1).correlate(None).scalar_subquery()
        query = query.where(host.c.id >= first)
    total = select(func.count()).select_from(host).where(*conditions).correlate(None).scalar_subquery()
    fetched = conn.execute(query.add_columns(total.label("total")).limit(size)).all()
    if not fetched:
        counted = select(func.count()).select_from(host).where(*conditions)
        return [], int(conn.execute(counted).scalar_one()) if offset else 0
    return [host_row(values[:-1]) for values in fetched], int(fetched[0][-1])


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
