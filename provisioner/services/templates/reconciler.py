"""The background worker that brings every ``template_store_ref`` row to Ready (or Failed), and removes deleted ones.

One round (:func:`reconcile`, the :data:`TASK` every management server runs):

1. add the missing (template, store) rows (:func:`ensure_store_refs`): new stores and zones get
   their templates by themselves;
2. simulated stores: mark due rows Ready at once (or ``sim.template.download.delay`` seconds after
   registration), without moving bytes, as CloudStack's simulator does;
3. claim real work with a lease (``lease_owner`` = this server's msid, ``lease_until``) in a short
   transaction, then run it on a worker thread with no transaction open:

   * a Ready copy exists on another store: **replicate store to store** from it (sparse, inline
     checksum against the source's engine checksum, XXH3, whatever the user's algorithm; resumable;
     the origin URL is not fetched again);
   * otherwise, one store per template downloads from the origin URL (the others wait for it and
     then replicate): inline checksum (the user's algorithm, and XXH3 recorded in
     ``engine_checksum``), size limit, redirect/private-address refusal, format check
     with ``qemu-img info`` (backing files and external data files refused), atomic publish;

   progress is written back with the lease renewal. A server killed mid-copy stops renewing; when
   the lease expires another server claims the row again and the copy resumes from its journal,
   up to ``template.download.max.attempts`` times, after which the row is marked Failed;
4. rows being deleted (``Destroying``) have their file removed, then the row.

A failed copy is ``Failed`` / ``DOWNLOAD_ERROR`` with the reason in ``error_str`` (listTemplates shows
it as ``status``); it is never marked Ready and its partial file is removed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from provisioner.db.engine import files_dir, run_in_transaction
from provisioner.db.schema import image_store, template_store_ref, utcnow, vm_template
from provisioner.exceptions import VolumeExistsError
from provisioner.server.background import PeriodicTask
from provisioner.services.templates import settings
from provisioner.services.templates.refs import ensure_store_refs
from provisioner.services.templates.stores import SIMULATOR, image_format, image_name, store_driver, store_driver_name
from provisioner.storage.base import StorageDriver
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum, hash_file
from provisioner.storage.replication.download import DownloadSettings, download
from provisioner.storage.replication.imageinfo import check_image
from provisioner.storage.replication.stores import replicate

log = logging.getLogger(__name__)

#: Size a simulated store reports for an image whose size is not known (CloudStack's mock: 2 GiB).
SIMULATED_SIZE = 2 << 30
#: Transfers one server runs at once.
MAX_TRANSFERS = 2
#: Rows claimed per round.
CLAIM_BATCH = 8


class LeaseLost(Exception):
    """Another server took the row over (or it was deleted) while this one worked on it."""


@dataclass(frozen=True, slots=True)
class Work:
    """One claimed row and what to do with it."""

    ref_id: int
    template_id: int
    store_id: int
    action: str  # "download" | "replicate"
    source_store_id: int | None
    seen: int  # update_count after the claim


_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()
_SLOTS = threading.BoundedSemaphore(MAX_TRANSFERS)


def staging_root(engine: Engine) -> Path:
    """Where downloads for stores without a local view are staged (beside the database's files)."""
    return files_dir(engine.url) / "template-staging"


def ready_values(install_path: str, size: int, physical: int) -> dict[str, Any]:
    """The columns of a store copy that became Ready (lease released)."""
    return {
        "state": "Ready",
        "download_state": "DOWNLOADED",
        "download_pct": 100,
        "error_str": None,
        "install_path": install_path,
        "size": size,
        "physical_size": physical,
        "lease_owner": None,
        "lease_until": None,
        "last_updated": utcnow(),
        "update_count": template_store_ref.c.update_count + 1,
    }


def record_size(conn: Connection, template_id: int, size: int, physical: int) -> None:
    """Give the template its size from its first Ready copy."""
    conn.execute(
        update(vm_template)
        .where(vm_template.c.id == template_id, vm_template.c.size.is_(None))
        .values(size=size, physical_size=physical)
    )


# -- simulated stores ------------------------------------------------------------------------------


def _complete_simulated(conn: Connection) -> int:
    """Mark due Allocated rows on simulated stores Ready; returns how many."""
    delay = settings.number(conn, settings.SIM_DELAY)
    due = utcnow() - timedelta(seconds=max(0.0, delay))
    query = (
        select(template_store_ref, vm_template.c.uuid, vm_template.c.format, vm_template.c.size.label("tsize"))
        .join(vm_template, vm_template.c.id == template_store_ref.c.template_id)
        .where(template_store_ref.c.state.in_(("Allocated", "Creating")), template_store_ref.c.created <= due)
    )
    done = 0
    stores: dict[int, bool] = {}
    for m in conn.execute(query).mappings().all():
        if m["store_id"] not in stores:
            store = conn.execute(select(image_store).where(image_store.c.id == m["store_id"])).mappings().one()
            stores[m["store_id"]] = store_driver_name(conn, store) == SIMULATOR
        if not stores[m["store_id"]]:
            continue
        size = int(m["tsize"] or SIMULATED_SIZE)
        done += conn.execute(
            update(template_store_ref)
            .where(template_store_ref.c.id == m["id"], template_store_ref.c.update_count == m["update_count"])
            .values(**ready_values(image_name(m["uuid"], m["format"]), size, size))
        ).rowcount
        record_size(conn, m["template_id"], size, size)
    return done


# -- claiming ----------------------------------------------------------------------------------------


def _fail(conn: Connection, ref_id: int, reason: str) -> None:
    conn.execute(
        update(template_store_ref)
        .where(template_store_ref.c.id == ref_id)
        .values(
            state="Failed",
            download_state="DOWNLOAD_ERROR",
            error_str=reason[:4000],
            lease_owner=None,
            lease_until=None,
            last_updated=utcnow(),
            update_count=template_store_ref.c.update_count + 1,
        )
    )


def _ready_source(conn: Connection, template_id: int, store_id: int) -> int | None:
    return conn.execute(
        select(template_store_ref.c.store_id)
        .join(image_store, image_store.c.id == template_store_ref.c.store_id)
        .where(
            template_store_ref.c.template_id == template_id,
            template_store_ref.c.state == "Ready",
            template_store_ref.c.store_id != store_id,
            image_store.c.removed.is_(None),
        )
        .order_by(template_store_ref.c.id)
        .limit(1)
    ).scalar()


def _claim_one(conn: Connection, *, ref: Any, msid: int, lease: float, max_attempts: int) -> Work | None:
    # Serialize claims per template (a row lock on PostgreSQL; SQLite writers are serial anyway), so two
    # servers cannot both decide to fetch the same template from its origin.
    conn.execute(
        update(vm_template)
        .where(vm_template.c.id == ref["template_id"])
        .values(update_count=vm_template.c.update_count)
    )
    now = utcnow()
    current = conn.execute(select(template_store_ref).where(template_store_ref.c.id == ref["id"])).mappings().one()
    expired = current["lease_until"] is None or current["lease_until"] < now
    if not (current["state"] == "Allocated" or (current["state"] == "Creating" and expired)):
        return None
    store = conn.execute(select(image_store).where(image_store.c.id == current["store_id"])).mappings().one()
    if store_driver_name(conn, store) == SIMULATOR:
        return None  # simulated stores complete on their own clock (_complete_simulated), never download
    template = conn.execute(select(vm_template).where(vm_template.c.id == ref["template_id"])).mappings().one()
    if current["attempts"] >= max_attempts:
        _fail(conn, current["id"], f"the copy was interrupted {current['attempts']} times; giving up")
        return None
    source = _ready_source(conn, template["id"], current["store_id"])
    if source is not None:
        action = "replicate"
    else:
        busy = conn.execute(
            select(template_store_ref.c.id).where(
                template_store_ref.c.template_id == template["id"],
                template_store_ref.c.id != current["id"],
                template_store_ref.c.state == "Creating",
                template_store_ref.c.lease_until >= now,
            )
        ).first()
        if busy is not None:
            return None  # another store fetches it from the origin; this one replicates afterwards
        if not template["url"]:
            return None  # nothing to copy from yet (a createTemplate still running)
        action = "download"
    claimed = conn.execute(
        update(template_store_ref)
        .where(template_store_ref.c.id == current["id"], template_store_ref.c.update_count == current["update_count"])
        .values(
            state="Creating",
            download_state="DOWNLOAD_IN_PROGRESS",
            error_str=None,
            source_store_id=source,
            lease_owner=msid,
            lease_until=now + timedelta(seconds=lease),
            attempts=template_store_ref.c.attempts + 1,
            last_updated=now,
            update_count=template_store_ref.c.update_count + 1,
        )
    ).rowcount
    if claimed != 1:
        return None
    return Work(current["id"], template["id"], current["store_id"], action, source, current["update_count"] + 1)


def _claim(engine: Engine, msid: int) -> list[Work]:
    def candidates(conn: Connection) -> tuple[list[Any], float, int]:
        now = utcnow()
        rows = (
            conn.execute(
                select(template_store_ref.c.id, template_store_ref.c.template_id)
                .join(vm_template, vm_template.c.id == template_store_ref.c.template_id)
                .where(
                    vm_template.c.removed.is_(None),
                    (template_store_ref.c.state == "Allocated")
                    | ((template_store_ref.c.state == "Creating") & (template_store_ref.c.lease_until < now)),
                )
                .order_by(template_store_ref.c.id)
                .limit(CLAIM_BATCH * 4)
            )
            .mappings()
            .all()
        )
        return (
            list(rows),
            settings.number(conn, settings.LEASE_SECONDS),
            int(settings.number(conn, settings.MAX_ATTEMPTS)),
        )

    rows, lease, attempts = run_in_transaction(engine, candidates)
    claimed: list[Work] = []
    for ref in rows:
        if len(claimed) >= CLAIM_BATCH:
            break
        with _RUNNING_LOCK:
            if ref["id"] in _RUNNING:
                continue
        work = run_in_transaction(
            engine, functools.partial(_claim_one, ref=ref, msid=msid, lease=lease, max_attempts=attempts)
        )
        if work is not None:
            claimed.append(work)
    return claimed


# -- doing the work ----------------------------------------------------------------------------------


class _Lease:
    """Writes progress and renews the lease, at most once a second; raises :class:`LeaseLost` when taken over."""

    def __init__(self, engine: Engine, work: Work, msid: int, lease: float) -> None:
        self.engine, self.work, self.msid, self.lease = engine, work, msid, lease
        self._last = 0.0

    def renew(self, pct: int | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < min(1.0, self.lease / 4):
            return
        self._last = now
        values: dict[str, Any] = {"lease_until": utcnow() + timedelta(seconds=self.lease), "last_updated": utcnow()}
        if pct is not None:
            values["download_pct"] = max(0, min(99, pct))

        def write(conn: Connection) -> int:
            return conn.execute(
                update(template_store_ref)
                .where(
                    template_store_ref.c.id == self.work.ref_id,
                    template_store_ref.c.state == "Creating",
                    template_store_ref.c.lease_owner == self.msid,
                )
                .values(**values)
            ).rowcount

        if run_in_transaction(self.engine, write) != 1:
            raise LeaseLost(f"template copy {self.work.ref_id} was taken over or deleted")

    def progress(self, done: int, total: int) -> None:
        self.renew(int(done * 100 / total) if total else None)


@dataclass(frozen=True, slots=True)
class _Result:
    name: str
    size: int
    physical: int
    checksum: str | None
    engine_checksum: str | None


def _download(
    engine: Engine, work: Work, template: Any, store: StorageDriver, *, lease: _Lease, dl: DownloadSettings
) -> _Result:
    name = image_name(template["uuid"], template["format"])
    fmt = image_format(template["format"])
    expected = Checksum.parse(template["checksum"]) if template["checksum"] else None
    # The download is verified with the user's algorithm; the engine's XXH3 of the same bytes, computed
    # beside it, is what replicas are verified against later (at XXH3's speed, not SHA-256's).
    algorithm = expected.algorithm if expected is not None else ENGINE_ALGORITHM
    local = store.local_path(name)
    staging = staging_root(engine) / f"ref-{work.ref_id}"
    dest = local if local is not None else staging / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            result = download(
                template["url"], dest, expected=expected, algorithm=algorithm, settings=dl, progress=lease.progress
            )
            digest, engine_digest = result.hexdigest, result.engine_hexdigest or result.hexdigest
        except VolumeExistsError:  # finished before a crash, not yet recorded: verify what is there
            digest, engine_digest = hash_file(dest, algorithm, ENGINE_ALGORITHM)
            if expected is not None and digest != expected.hexdigest:
                raise
        lease.renew(100, force=True)
        info = check_image(str(dest), fmt)
        physical = dest.stat().st_size
        if local is None:
            with contextlib.suppress(VolumeExistsError):
                store.copy_in(dest, name, fmt=fmt, progress=None)
    except LeaseLost:
        raise  # the new owner resumes from the partial file
    except BaseException:
        if local is not None:
            _remove_local(dest)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    engine_checksum = str(Checksum(ENGINE_ALGORITHM, engine_digest))
    return _Result(name, info.virtual_size, physical, str(Checksum(algorithm, digest)), engine_checksum)


def _remove_local(dest: Path) -> None:
    for path in (dest, dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".journal")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _replicate(
    template: Any, source_ref: Any, source: StorageDriver, store: StorageDriver, *, lease: _Lease
) -> _Result:
    name = str(source_ref["install_path"])
    # The source's engine checksum when it has one: the same bytes as the verified download, checked at
    # XXH3's speed. Copies made before it was recorded are checked with the user's algorithm.
    wanted = source_ref["engine_checksum"] or template["checksum"] or source_ref["checksum"]
    try:
        result = replicate(source, name, store, expected=wanted, progress=lease.progress)
    except VolumeExistsError:
        existing = store.get_volume(name)
        return _Result(
            name, existing.virtual_size, existing.allocated_bytes, source_ref["checksum"], source_ref["engine_checksum"]
        )
    info = store.get_volume(name)
    engine = result.engine_checksum()
    return _Result(
        name,
        info.virtual_size or int(source_ref["size"] or 0),
        info.allocated_bytes,
        # Verified equal to the source, so the source's checksum (the user's algorithm) holds for it too.
        source_ref["checksum"] if engine is not None and source_ref["checksum"] else str(result.checksum()),
        str(engine) if engine is not None else None,
    )


def run_work(engine: Engine, work: Work, msid: int) -> None:
    """Carry out one claimed copy and record Ready or Failed (no transaction open while bytes move)."""

    def read(conn: Connection) -> tuple[Any, Any, Any, Any, Any, float, DownloadSettings]:
        template = conn.execute(select(vm_template).where(vm_template.c.id == work.template_id)).mappings().one()
        store_row = conn.execute(select(image_store).where(image_store.c.id == work.store_id)).mappings().one()
        source_ref = source_driver = None
        if work.source_store_id is not None:
            source_ref = (
                conn.execute(
                    select(template_store_ref).where(
                        template_store_ref.c.template_id == work.template_id,
                        template_store_ref.c.store_id == work.source_store_id,
                    )
                )
                .mappings()
                .one()
            )
            source_row = (
                conn.execute(select(image_store).where(image_store.c.id == work.source_store_id)).mappings().one()
            )
            source_driver = store_driver(conn, source_row)
        return (
            template,
            store_driver(conn, store_row),
            source_ref,
            source_driver,
            store_row,
            settings.number(conn, settings.LEASE_SECONDS),
            settings.download_settings(conn),
        )

    template, store, source_ref, source, _row, lease_seconds, dl = run_in_transaction(engine, read)
    lease = _Lease(engine, work, msid, lease_seconds)
    try:
        with store:
            if work.action == "replicate":
                assert source is not None
                with source:
                    result = _replicate(template, source_ref, source, store, lease=lease)
            else:
                result = _download(engine, work, template, store, lease=lease, dl=dl)
    except LeaseLost:
        log.warning("template copy %s was taken over; leaving it to its new owner", work.ref_id)
        return
    except Exception as error:  # every failure is recorded on the row, with its reason
        reason = str(error) or type(error).__name__
        log.warning("template copy %s failed: %s", work.ref_id, reason)
        run_in_transaction(engine, lambda conn: _fail_owned(conn, work, msid, reason))
        return

    def ready(conn: Connection) -> int:
        changed = conn.execute(
            update(template_store_ref)
            .where(
                template_store_ref.c.id == work.ref_id,
                template_store_ref.c.state == "Creating",
                template_store_ref.c.lease_owner == msid,
            )
            .values(
                **ready_values(result.name, result.size, result.physical),
                checksum=result.checksum,
                engine_checksum=result.engine_checksum,
            )
        ).rowcount
        record_size(conn, work.template_id, result.size, result.physical)
        return changed

    if run_in_transaction(engine, ready) != 1:
        # Deleted (or taken over) while copying: the file is nobody's, remove it.
        with store, contextlib.suppress(Exception):
            store.delete_volume(result.name)


def _fail_owned(conn: Connection, work: Work, msid: int, reason: str) -> None:
    owned = conn.execute(
        select(template_store_ref.c.id).where(
            template_store_ref.c.id == work.ref_id,
            template_store_ref.c.state == "Creating",
            template_store_ref.c.lease_owner == msid,
        )
    ).first()
    if owned is not None:
        _fail(conn, work.ref_id, reason)


def _start(engine: Engine, work: Work, msid: int) -> None:
    def body() -> None:
        try:
            run_work(engine, work, msid)
        except Exception:
            log.exception("template copy %s crashed", work.ref_id)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(work.ref_id)
            _SLOTS.release()

    with _RUNNING_LOCK:
        _RUNNING.add(work.ref_id)
    threading.Thread(target=body, name=f"template-copy-{work.ref_id}", daemon=True).start()


# -- deleting ----------------------------------------------------------------------------------------


def _destroy(engine: Engine, msid: int) -> int:
    def claim(conn: Connection) -> list[Any]:
        now = utcnow()
        rows = (
            conn.execute(
                select(template_store_ref)
                .where(
                    template_store_ref.c.state == "Destroying",
                    (template_store_ref.c.lease_until.is_(None)) | (template_store_ref.c.lease_until < now),
                )
                .limit(CLAIM_BATCH)
            )
            .mappings()
            .all()
        )
        mine = []
        for m in rows:
            if conn.execute(
                update(template_store_ref)
                .where(template_store_ref.c.id == m["id"], template_store_ref.c.update_count == m["update_count"])
                .values(
                    lease_owner=msid,
                    lease_until=now + timedelta(seconds=300),
                    update_count=template_store_ref.c.update_count + 1,
                )
            ).rowcount:
                store = conn.execute(select(image_store).where(image_store.c.id == m["store_id"])).mappings().one()
                mine.append((m, store_driver(conn, store)))
        return mine

    removed = 0
    for ref, driver in run_in_transaction(engine, claim):
        try:
            if ref["install_path"]:
                with driver:
                    driver.delete_volume(ref["install_path"])
        except Exception as error:  # keep the row: the next round tries again
            log.warning("removing template copy %s failed: %s", ref["id"], error)
            continue
        shutil.rmtree(staging_root(engine) / f"ref-{ref['id']}", ignore_errors=True)
        run_in_transaction(engine, functools.partial(_forget, ref_id=ref["id"]))
        removed += 1
    return removed


# -- the round ---------------------------------------------------------------------------------------


def reconcile(engine: Engine, msid: int, *, wait: bool = False) -> None:
    """One round of the worker (see the module docstring).

    Args:
        engine: the database.
        msid: this management server's id (the lease owner).
        wait: run transfers on this thread and return when they are done (tests, CLI).
    """
    from provisioner.services.templates.builtin import seed_templates

    run_in_transaction(engine, seed_templates)
    run_in_transaction(engine, ensure_store_refs)
    run_in_transaction(engine, _complete_simulated)
    _destroy(engine, msid)
    for work in _claim(engine, msid):
        if wait:
            run_work(engine, work, msid)
            continue
        if not _SLOTS.acquire(blocking=False):
            # No free transfer slot: hand the row back so this or another server takes it soon.
            run_in_transaction(engine, functools.partial(_release, work=work, msid=msid))
            continue
        _start(engine, work, msid)


def _forget(conn: Connection, *, ref_id: int) -> None:
    conn.execute(delete(template_store_ref).where(template_store_ref.c.id == ref_id))


def _release(conn: Connection, *, work: Work, msid: int) -> None:
    conn.execute(
        update(template_store_ref)
        .where(template_store_ref.c.id == work.ref_id, template_store_ref.c.lease_owner == msid)
        .values(
            state="Allocated",
            download_state="NOT_DOWNLOADED",
            lease_owner=None,
            lease_until=None,
            attempts=template_store_ref.c.attempts - 1,
        )
    )


TASK = PeriodicTask(
    name="templates",
    run=reconcile,
    interval_setting=settings.RECONCILE_INTERVAL,
    default_interval=2.0,
)
