"""Host state changes: maintenance (``prepareHostForMaintenance``, ``cancelHostMaintenance``),
``reconnectHost`` and heartbeats, following CloudStack's ``ResourceState`` and ``Status`` machines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import Connection, select, update

from provisioner.db.schema import host, utcnow
from provisioner.exceptions import DriverError, InternalError, ParamError
from provisioner.services.infrastructure.common import Row, get_live, require_root
from provisioner.services.infrastructure.connectors import (
    HostConnector,
    HostConnectRequest,
    driver_uri,
    registry_connector,
)
from provisioner.services.infrastructure.hosts import one_host
from provisioner.services.principal import Caller

#: Resource states from which an admin may ask for maintenance (AdminAskMaintenance).
MAINTENANCE_FROM = ("Enabled", "Disabled", "ErrorInMaintenance", "ErrorInPrepareForMaintenance")
#: Resource states AdminCancelMaintenance leaves.
CANCEL_FROM = ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance", "ErrorInPrepareForMaintenance")

#: Moves the VMs of a host (by UUID) elsewhere; True when the host is empty afterwards.
Evacuator = Callable[[str], bool]


def prepare_host_for_maintenance(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    evacuate: Evacuator | None = None,
) -> Row:
    """Enabled → PrepareForMaintenance → Maintenance once the VMs are gone, else ErrorInPrepareForMaintenance.

    Args:
        conn: the connection.
        caller: must be a root admin.
        id: the host's UUID.
        evacuate: migrates the host's VMs away (the VM layer supplies it); without one the host
            is taken to hold no VMs.

    Raises:
        ParamError: the host is already in (or entering) maintenance.
    """
    require_root(caller, "prepareHostForMaintenance")
    row = get_live(conn, host, id)
    if row["resource_state"] not in MAINTENANCE_FROM:
        raise ParamError(
            f"Unable to prepare host {row['uuid']} for maintenance: its resource state is {row['resource_state']}"
        )
    conn.execute(update(host).where(host.c.id == row["id"]).values(resource_state="PrepareForMaintenance"))
    emptied = evacuate(row["uuid"]) if evacuate is not None else True
    final = "Maintenance" if emptied else "ErrorInPrepareForMaintenance"
    conn.execute(update(host).where(host.c.id == row["id"]).values(resource_state=final))
    return one_host(conn, row["id"])


def cancel_host_maintenance(conn: Connection, caller: Caller, id: str) -> Row:
    """Maintenance (or on its way) → Enabled (AdminCancelMaintenance).

    Raises:
        ParamError: the host is not in a maintenance state (CloudStack's text).
    """
    require_root(caller, "cancelHostMaintenance")
    row = get_live(conn, host, id)
    if row["resource_state"] not in CANCEL_FROM:
        raise ParamError(
            f"Cannot perform cancelMaintenance when resource state is {row['resource_state']}, hostId = {row['uuid']}"
        )
    conn.execute(update(host).where(host.c.id == row["id"]).values(resource_state="Enabled"))
    return one_host(conn, row["id"])


def reconnect_host(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    connector: HostConnector = registry_connector,
    password: str | None = None,
) -> Row:
    """Connect to the host again (``reconnectHost``): Up on success, Alert when it does not answer.

    Raises:
        InternalError: the host did not answer (it is left in Alert).
    """
    require_root(caller, "reconnectHost")
    row = get_live(conn, host, id)
    request = HostConnectRequest(
        url=row["url"],
        hypervisor=row["hypervisor_type"],
        driver=row["driver"],
        driver_uri=driver_uri(row["hypervisor_type"], row["url"], row["username"]),
        username=row["username"],
        password=password,
        settings=row["driver_settings"] or {},
    )
    try:
        facts = connector(request)
    except DriverError as exc:
        conn.execute(update(host).where(host.c.id == row["id"]).values(status="Alert", disconnected=utcnow()))
        raise InternalError(f"Failed to reconnect host {row['uuid']}: {exc}") from exc
    conn.execute(
        update(host)
        .where(host.c.id == row["id"])
        .values(
            status="Up",
            last_ping=utcnow(),
            cpu_cores=facts.cpu_cores,
            cpu_speed=facts.cpu_mhz,
            memory=facts.memory_bytes,
            hypervisor_version=facts.hypervisor_version,
        )
    )
    return one_host(conn, row["id"])


def record_ping(conn: Connection, host_ids: Sequence[int], msid: int | None = None) -> None:
    """Mark hosts as heard from now (Alert/Disconnected → Up, as CloudStack's Ping event)."""
    values: dict[str, object] = {"last_ping": utcnow(), "status": "Up"}
    if msid is not None:
        values["mshost_id"] = msid
    conn.execute(update(host).where(host.c.id.in_(host_ids), host.c.status != "Removed").values(**values))


def mark_silent_hosts(conn: Connection, timeout: timedelta) -> list[str]:
    """Up hosts not heard from for ``timeout`` go to Alert (PingTimeout); returns their UUIDs."""
    cutoff = utcnow() - timeout
    stale = select(host.c.id, host.c.uuid).where(
        host.c.status == "Up", host.c.removed.is_(None), host.c.last_ping < cutoff
    )
    rows = conn.execute(stale).all()
    if rows:
        conn.execute(
            update(host).where(host.c.id.in_([r.id for r in rows])).values(status="Alert", disconnected=utcnow())
        )
    return [r.uuid for r in rows]
