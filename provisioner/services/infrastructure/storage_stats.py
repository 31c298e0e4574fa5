"""Storage stats: the total and used bytes of primary pools and image stores, read from the storage itself.

CloudStack's StatsCollector asks the storage for its figures every ``storage.stats.interval``
milliseconds, and ``listStoragePools``, ``listImageStores``, ``listCapacity`` and the allocator's
thresholds read what it recorded. Here the storage driver answers directly, without a kernel mount
where there is none: FSSTAT over NFSv3 RPC for an NFS export, statvfs for a mounted or local
directory, READ CAPACITY 16 (libiscsi) for iSCSI LUNs.

Each round (the ``storage-stats`` :class:`~provisioner.server.background.PeriodicTask`):

* ``capacity_bytes`` becomes the measured total, unless the operator set the pool's size
  (``capacitybytes``, kept in its details under :data:`CAPACITY_DETAIL`);
* ``used_bytes`` becomes the measured used bytes; ``allocated_bytes`` stays the database's sum of
  the volumes placed on the pool, as in CloudStack. An iSCSI target cannot tell which of its LUNs
  hold volumes (to it every LUN is in use), so an iSCSI pool's used bytes are its allocated bytes;
* a pool whose storage does not answer goes ``Down``, so the allocator (which takes only ``Up``
  pools) stops placing volumes on it, and goes back ``Up`` when it answers. CloudStack's
  ``StoragePoolStatus`` has no ``Down`` (its agents notice an unreachable pool on the hosts); with no
  agents here, the pool's own state is where an operator and the allocator see it. Pools in
  maintenance or disabled keep their state.

``createStoragePool``, ``addImageStore`` and ``addSecondaryStorage`` measure their new row the same way
right after their transaction commits.

Only network pools (NFS, iSCSI) are measured: local and shared-mount-point pools are directories on
the hypervisor hosts and keep the size they were given. Simulated pools and stores (nothing to
contact) and stores no driver serves (S3, Swift) are skipped.
The storage is asked with no transaction open; several management servers running the round at once
write the same figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import image_store, storage_pool
from provisioner.exceptions import DriverError, DriverNotFoundError
from provisioner.server.background import PeriodicTask
from provisioner.services.templates.settings import STORAGE_STATS_INTERVAL
from provisioner.services.templates.stores import SIMULATOR, build_driver, pool_driver_name, store_driver_name

log = logging.getLogger(__name__)

#: The pool detail holding the size the operator gave (``capacitybytes``); the stats keep it as the total.
CAPACITY_DETAIL = "capacitybytes"
#: Pool drivers whose storage this server reaches over the network. Local and shared-mount-point
#: (``file://``, ``sharedmountpoint://``, ``presetup://``) paths are on the hypervisor hosts, not here.
NETWORK_POOL_DRIVERS = ("nfs", "iscsi")
#: Pool states the round may change: Up and Down follow the storage's answer.
FOLLOWED_STATES = ("Up", "Down")


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the storage said: total and used bytes, or why it did not answer.

    Attributes:
        total_bytes: the storage's size (0 when it did not answer).
        used_bytes: bytes in use on it; None where the storage cannot tell (iSCSI LUNs: what the
            cloud allocated on the pool is what is used).
        problem: empty when the storage answered, else why not.
    """

    total_bytes: int = 0
    used_bytes: int | None = 0
    problem: str = ""


def measure(driver_name: str, url: str, details: Mapping[str, Any] | None) -> Measurement:
    """Ask the storage at ``url`` for its figures through the driver ``driver_name``.

    Raises:
        DriverNotFoundError: no driver by that name (an object store, say); any other failure is the
            measurement's ``problem``.
    """
    try:
        driver = build_driver(driver_name, url, details)
        problem = driver.probe()
        if problem:
            return Measurement(problem=problem)
        total, used = driver.totals()
    except DriverNotFoundError:
        raise
    except DriverError as error:
        return Measurement(problem=str(error))
    return Measurement(total, used)


def _pool_measured_by(conn: Connection, row: Mapping[str, Any]) -> str:
    name = pool_driver_name(conn, row)
    return name if name in NETWORK_POOL_DRIVERS else SIMULATOR


def _pool_values(details: Mapping[str, Any] | None, measured: Measurement) -> dict[str, Any]:
    """The pool columns a measurement sets: state, used bytes, and the total unless the operator set it."""
    if measured.problem:
        return {"state": "Down"}
    used = storage_pool.c.allocated_bytes if measured.used_bytes is None else measured.used_bytes
    values: dict[str, Any] = {"state": "Up", "used_bytes": used}
    if CAPACITY_DETAIL not in (details or {}):
        values["capacity_bytes"] = measured.total_bytes
    return values


def _measure_all(
    engine: Engine,
    table: Table,
    driver_name: Callable[[Connection, Mapping[str, Any]], str],
    uuids: Sequence[str] | None,
    *where: Any,
) -> list[tuple[Mapping[str, Any], Measurement]]:
    if uuids is not None:
        where = (*where, table.c.uuid.in_(uuids))

    def read(conn: Connection) -> list[tuple[Mapping[str, Any], str]]:
        rows = conn.execute(select(table).where(table.c.removed.is_(None), *where)).mappings().all()
        return [(dict(row), driver_name(conn, dict(row))) for row in rows]

    results = []
    for row, name in run_in_transaction(engine, read):
        if name == SIMULATOR:
            continue
        try:
            measured = measure(name, str(row["url"]), row.get("details"))
        except DriverNotFoundError:
            continue  # S3, Swift: no driver here measures an object store
        results.append((row, measured))
    return results


def refresh_pools(engine: Engine, uuids: Sequence[str] | None = None) -> dict[str, Measurement]:
    """Measure the Up or Down pools (all, or those of ``uuids``) and record their figures and state.

    Call it with no transaction open: each pool's storage is asked in turn, up to its driver's timeout.

    Returns:
        The measurements by pool UUID.
    """
    where = storage_pool.c.state.in_(FOLLOWED_STATES)
    measured = _measure_all(engine, storage_pool, _pool_measured_by, uuids, where)

    def record(conn: Connection) -> None:
        for row, figures in measured:
            if figures.problem and row["state"] == "Up":
                log.warning("storage pool %s (%s) does not answer: %s", row["name"], row["url"], figures.problem)
            conn.execute(
                update(storage_pool)
                .where(storage_pool.c.id == row["id"], storage_pool.c.state.in_(FOLLOWED_STATES))
                .values(**_pool_values(row["details"], figures))
            )

    run_in_transaction(engine, record)
    return {str(row["uuid"]): figures for row, figures in measured}


def refresh_stores(engine: Engine, uuids: Sequence[str] | None = None) -> dict[str, Measurement]:
    """Measure the image stores a driver serves (all, or those of ``uuids``) and record their bytes.

    Call it with no transaction open. A store that does not answer keeps its figures (image stores
    have no state to show it; the template worker reports its failed copies).

    Returns:
        The measurements by store UUID.
    """
    measured = _measure_all(engine, image_store, store_driver_name, uuids)

    def record(conn: Connection) -> None:
        for row, figures in measured:
            if figures.problem:
                log.warning("image store %s (%s) does not answer: %s", row["name"], row["url"], figures.problem)
                continue
            conn.execute(
                update(image_store)
                .where(image_store.c.id == row["id"])
                .values(capacity_bytes=figures.total_bytes, used_bytes=figures.used_bytes or 0)
            )

    run_in_transaction(engine, record)
    return {str(row["uuid"]): figures for row, figures in measured}


def _run(engine: Engine, _msid: int) -> None:
    refresh_pools(engine)
    refresh_stores(engine)


#: The background task: one round every ``storage.stats.interval`` milliseconds (60 s by default).
TASK = PeriodicTask(
    "storage-stats", _run, interval_setting=STORAGE_STATS_INTERVAL, default_interval=60.0, interval_unit=0.001
)
