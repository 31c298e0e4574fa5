"""Host health: a periodic check of every host this node owns, and the VM power sync that rides on it.

Each round (the ``host-health`` :class:`~provisioner.server.background.PeriodicTask`, every
``ping.interval`` seconds as CloudStack's agent ping):

1. **claim** — hosts with no owning management server, or whose owner stopped heartbeating for
   ``cluster.heartbeat.threshold``, are taken over with one conditional ``UPDATE … WHERE mshost_id IS
   NULL OR mshost_id IN (dead)``: of several servers on one PostgreSQL exactly one wins each host, and
   only a host's owner checks it, so no host is checked twice;
2. **ask** — with no transaction open, each owned host is reached through
   :func:`~provisioner.services.compute.host_drivers.open_host_driver` and asked for its VMs;
3. **record** — CloudStack's ``Status`` machine: an answer makes the host Up (``last_ping`` = now); no
   answer makes it Disconnected, and Down once it has been silent for ``ping.interval`` times
   ``ping.timeout``; an answer with an error makes it Alert. A host coming back from Down,
   Disconnected or Alert goes through Connecting first. Only Up hosts receive new VMs (the allocator's
   host filter and its reservation guard both require Up). The VMs of a host that went Down are
   Stopped; the VMs of an Up host follow its report (:mod:`~provisioner.services.compute.operations.power_sync`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, or_, select, update

from provisioner.compute.types import VMInfo
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import host, utcnow
from provisioner.exceptions import DriverError, HostUnreachableError
from provisioner.server.background import PeriodicTask
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.operations.migrate import release_stale_migrations
from provisioner.services.compute.operations.power_sync import (
    OFF_STATES,
    KnownVm,
    PowerChange,
    apply_report,
    chunks,
    known_vms,
    stop_vms_of_down_host,
)
from provisioner.services.configuration import config_value
from provisioner.services.jobs.recovery import dead_nodes

log = logging.getLogger(__name__)

UP, DOWN, DISCONNECTED, ALERT, CONNECTING = "Up", "Down", "Disconnected", "Alert", "Connecting"
#: Statuses a round checks; Creating (addHost under way) and Removed hosts are left alone.
CHECKED = (UP, DOWN, DISCONNECTED, ALERT, CONNECTING)
#: Most hosts one round checks (the longest-silent first), so a round's work is bounded.
MAX_HOSTS_PER_ROUND = 20_000
#: Hosts asked at once: a libvirt host that does not answer blocks its thread until its connect timeout.
PARALLEL_CHECKS = 16
#: Hosts whose VMs are read in one transaction before they are asked.
CHUNK_HOSTS = 50


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """The timing of the check, from CloudStack's settings.

    Attributes:
        interval: ``ping.interval``, seconds between checks.
        timeout_factor: ``ping.timeout``, the multiple of ``interval`` a host may stay silent before it is Down.
        heartbeat_threshold: ``cluster.heartbeat.threshold`` in seconds: a management server silent this long
            has its hosts taken over.
    """

    interval: float = 60.0
    timeout_factor: float = 2.5
    heartbeat_threshold: float = 150.0

    @property
    def down_after(self) -> timedelta:
        """How long a host may go unanswered before it is Down."""
        return timedelta(seconds=self.interval * self.timeout_factor)


def _number(conn: Connection, name: str, default: float) -> float:
    value = config_value(conn, name)
    try:
        return float(value) if value else default
    except ValueError:
        return default


def health_settings(conn: Connection) -> HealthSettings:
    """Read ``ping.interval``, ``ping.timeout`` and ``cluster.heartbeat.threshold`` (milliseconds)."""
    return HealthSettings(
        interval=max(0.05, _number(conn, "ping.interval", 60.0)),
        timeout_factor=max(1.0, _number(conn, "ping.timeout", 2.5)),
        heartbeat_threshold=_number(conn, "cluster.heartbeat.threshold", 150_000.0) / 1000,
    )


@dataclass(frozen=True, slots=True)
class HostReport:
    """What asking one host gave.

    Attributes:
        host_id: the host.
        vms: the VMs it reported; None when it did not answer or failed.
        error: why it did not answer or failed.
        unreachable: it did not answer at all (rather than answering with an error).
    """

    host_id: int
    vms: tuple[VMInfo, ...] | None = None
    error: str | None = None
    unreachable: bool = False


@dataclass(slots=True)
class RoundResult:
    """What one round did, by host UUID (for logs and tests)."""

    checked: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    vm_changes: list[PowerChange] = field(default_factory=list)


def claim_hosts(conn: Connection, msid: int, settings: HealthSettings, limit: int = MAX_HOSTS_PER_ROUND) -> list[Any]:
    """Take over hosts nobody (alive) owns, then return this node's hosts to check, longest silent first."""
    dead = dead_nodes(conn, msid, settings.heartbeat_threshold)
    orphaned: ColumnElement[bool] = host.c.mshost_id.is_(None)
    if dead:
        orphaned = or_(orphaned, host.c.mshost_id.in_(dead))
    conn.execute(
        update(host)
        .where(host.c.removed.is_(None), host.c.type == "Routing", host.c.status.in_(CHECKED), orphaned)
        .values(mshost_id=msid)
    )
    query = (
        select(host)
        .where(host.c.removed.is_(None), host.c.mshost_id == msid, host.c.status.in_(CHECKED))
        .order_by(host.c.last_ping.is_not(None), host.c.last_ping, host.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def ask_host(row: Mapping[str, Any]) -> HostReport:
    """Ask one host for its VMs through its driver (no transaction may be open here)."""
    try:
        with open_host_driver(row) as driver:
            return HostReport(int(row["id"]), vms=tuple(driver.list_vms()))
    except HostUnreachableError as exc:
        return HostReport(int(row["id"]), error=str(exc), unreachable=True)
    except DriverError as exc:
        return HostReport(int(row["id"]), error=str(exc))


def _set_status(conn: Connection, row: Mapping[str, Any], msid: int, **values: Any) -> bool:
    """Change a host's status unless another server took it or someone else changed its status meanwhile."""
    changed = conn.execute(
        update(host)
        .where(host.c.id == row["id"], host.c.mshost_id == msid, host.c.status == row["status"])
        .values(**values)
    ).rowcount
    return changed == 1


def _silent_since(row: Mapping[str, Any]) -> datetime | None:
    since: datetime | None = row["last_ping"] or row["disconnected"] or row["created"]
    return since


def record_report(
    conn: Connection,
    *,
    row: dict[str, Any],
    report: HostReport,
    known: Sequence[KnownVm],
    msid: int,
    settings: HealthSettings,
    now: datetime,
) -> tuple[str, list[PowerChange]]:
    """Apply one host's report: its new status, and its VMs' power states. Returns (status, VM changes)."""
    status = row["status"]
    if report.vms is not None:
        if not _set_status(conn, row, msid, status=UP, last_ping=now, disconnected=None):
            return status, []
        if row["resource_state"] == "Maintenance" and any(vm.state not in OFF_STATES for vm in report.vms):
            # CloudStack: a host in maintenance found running VMs is ErrorInMaintenance.
            conn.execute(
                update(host)
                .where(host.c.id == row["id"], host.c.resource_state == "Maintenance")
                .values(resource_state="ErrorInMaintenance")
            )
        return UP, apply_report(conn, int(row["id"]), known, report.vms)
    target = ALERT if not report.unreachable else DISCONNECTED
    before = row.get("was", status)  # the status before this round marked it Connecting
    since = _silent_since(row)
    if report.unreachable and (before == DOWN or (since is not None and now - since >= settings.down_after)):
        target = DOWN
    if target == status or not _set_status(conn, row, msid, status=target, disconnected=row["disconnected"] or now):
        return status, []
    if target != before:
        log.warning("host %s is %s (silent since %s): %s", row["uuid"], target, since, report.error)
    if target == DOWN and before != DOWN:
        return DOWN, stop_vms_of_down_host(conn, int(row["id"]))
    return target, []


def _mark_connecting(conn: Connection, rows: list[dict[str, Any]], msid: int) -> None:
    """Hosts coming back from Down/Disconnected/Alert are Connecting while asked (CloudStack's reconnect).

    Each such row keeps its former status under ``"was"``: a host still silent returns to it (Down stays Down).
    """
    for status in (DOWN, DISCONNECTED, ALERT):
        returning = [r for r in rows if r["status"] == status]
        for part in chunks([r["id"] for r in returning]):
            conn.execute(
                update(host)
                .where(host.c.id.in_(part), host.c.mshost_id == msid, host.c.status == status)
                .values(status=CONNECTING)
            )
        for r in returning:
            r["was"], r["status"] = status, CONNECTING


def run_round(engine: Engine, msid: int, *, limit: int = MAX_HOSTS_PER_ROUND) -> RoundResult:
    """One health round: claim, then per chunk of hosts read their VMs, ask them (no transaction open) and
    record each host in its own short transaction (SQLite serialises writers: no long lock for the API to wait on).
    """

    def claim(conn: Connection) -> tuple[HealthSettings, list[dict[str, Any]]]:
        settings = health_settings(conn)
        release_stale_migrations(conn)  # shares left by servers killed mid-migration
        rows = [dict(r) for r in claim_hosts(conn, msid, settings, limit)]
        _mark_connecting(conn, rows, msid)
        return settings, rows

    settings, rows = run_in_transaction(engine, claim)
    result = RoundResult(checked=len(rows))
    if not rows:
        return result
    with ThreadPoolExecutor(max_workers=min(PARALLEL_CHECKS, len(rows)), thread_name_prefix="host-check") as pool:
        for chunk in chunks(rows, CHUNK_HOSTS):
            # The VMs are read before their hosts are asked: a job that moves one meanwhile wins (power_sync).
            known = run_in_transaction(engine, functools.partial(known_vms, host_ids=[int(r["id"]) for r in chunk]))
            reports = list(pool.map(ask_host, chunk))
            now = utcnow()
            for row, report in zip(chunk, reports, strict=True):
                record = functools.partial(
                    record_report,
                    row=row,
                    report=report,
                    known=known.get(int(row["id"]), []),
                    msid=msid,
                    settings=settings,
                    now=now,
                )
                status, changes = run_in_transaction(engine, record)
                result.statuses[row["uuid"]] = status
                result.vm_changes.extend(changes)
    for change in result.vm_changes:
        log.info("VM %s: %s -> %s (%s)", change.instance_name, change.old, change.new, change.reason)
    return result


def _run(engine: Engine, msid: int) -> None:
    run_round(engine, msid)


#: The background task: one round every ``ping.interval`` seconds.
HOST_HEALTH = PeriodicTask("host-health", _run, interval_setting="ping.interval", default_interval=60.0)
