"""What deploys and expunges need from templates: the template to deploy, and its base image on a pool.

Called by the VM lifecycle (``deployVirtualMachine``, volume creation, expunge):

1. :func:`template_for_deploy` (inside the deploy's own transaction) checks the caller may use the
   template and that it is Ready on an image store of the zone, and returns a :class:`DeployTemplate`.
2. :func:`acquire_base_image` (OUTSIDE any transaction: it copies data) makes sure the template has
   a base image on the chosen primary pool, copying it once, and counts one more user of it.
   The VM's root volume is then an overlay on it:
   ``driver.create_overlay(base_image_key(template_id), volume_name, size)``.
3. :func:`release_base_image` (OUTSIDE any transaction) when that volume is expunged: one user less;
   the last one removes the base image from the pool.

Transactions and concurrency (``template_pool_ref``, one row per template and pool):

* every database step is a short transaction of its own (:func:`run_in_transaction`); no transaction
  is open while bytes move;
* the first caller inserts the row and *claims* the copy with a conditional update
  (``Allocated``/``Failed`` -> ``Creating``); it keeps ``last_updated`` fresh while copying (a lease);
* a concurrent caller that finds ``Creating`` waits (bounded) for ``Ready`` and then only counts
  itself: two concurrent deploys copy once;
* a copier that died (kill -9) stops renewing its lease; after :data:`COPY_LEASE_SECONDS` the next
  caller claims the row again and copies (``ensure_base_image`` is idempotent and publishes
  atomically, so a half copy is never used);
* a failed copy leaves ``Failed`` with ``error_str``; the next caller retries.

Reference counts are plain counts: call ``acquire`` once per volume and ``release`` once when that
volume is expunged (record on the volume that it holds the base image if a retry could repeat it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import image_store, storage_pool, template_pool_ref, template_store_ref, utcnow, vm_template
from provisioner.exceptions import (
    InternalError,
    ParamError,
    PermissionDeniedError,
    ResourceUnavailableError,
    VolumeNotFoundError,
)
from provisioner.services.principal import Caller
from provisioner.services.templates.access import usable_condition
from provisioner.services.templates.stores import (
    SIMULATOR,
    build_driver,
    image_format,
    pool_driver,
    pool_driver_name,
    store_driver,
)
from provisioner.storage.base import base_image_name

#: Seconds a ``Creating`` base-image copy may go without a heartbeat before another caller takes it over.
COPY_LEASE_SECONDS = 120.0
#: Seconds a caller waits for another caller's copy of the same base image before giving up.
WAIT_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class DeployTemplate:
    """A template (or ISO) ready in one zone, as a deploy needs it.

    Attributes:
        id: internal id (``vm_template.id``; the key of its base images, see :func:`base_image_key`).
        uuid: the id clients see.
        name: the template's name.
        format: QCOW2, RAW, VHD, OVA, ISO, ...
        hypervisor_type: KVM, Simulator, ... (None for ISOs).
        size: virtual size in bytes (0 when not known yet).
        os_type_id: internal ``os_type`` id, or None.
        password_enabled: the guest runs CloudStack's password script.
        sshkey_enabled: the guest accepts SSH keys from user data.
        is_iso: True for an ISO.
        bootable: ISOs: may boot a VM.
        store_id: internal id of the image store that holds the Ready copy.
        store_url: that store's URL (``nfs://server/export``).
        install_path: the image's name on that store.
        install_url: ``store_url/install_path``, what ``qemu-img`` reads.
        simulated: the zone is simulated (nothing to copy, nothing to boot).
    """

    id: int
    uuid: str
    name: str
    format: str
    hypervisor_type: str | None
    size: int
    os_type_id: int | None
    password_enabled: bool
    sshkey_enabled: bool
    is_iso: bool
    bootable: bool
    store_id: int
    store_url: str
    install_path: str
    install_url: str
    simulated: bool


def base_image_key(template_id: int) -> str:
    """The template key the storage drivers name a base image by (``tmpl-<key>.qcow2``); the internal id."""
    return str(template_id)


# Built once: every deployment runs them, and building a statement (and its cache key) costs more than running it.
_LIVE_TEMPLATE = select(vm_template).where(vm_template.c.uuid == bindparam("uuid"), vm_template.c.removed.is_(None))
#: The template's Ready copies in a zone, its own stores first.
_READY_COPY = (
    select(
        template_store_ref.c.install_path,
        template_store_ref.c.size,
        image_store.c.id.label("store_id"),
        image_store.c.url.label("store_url"),
        image_store.c.zone_id.label("store_zone_id"),
        image_store.c.details.label("store_details"),
    )
    .join(image_store, image_store.c.id == template_store_ref.c.store_id)
    .where(
        template_store_ref.c.template_id == bindparam("template"),
        template_store_ref.c.state == "Ready",
        image_store.c.removed.is_(None),
        or_(image_store.c.zone_id == bindparam("zone"), image_store.c.zone_id.is_(None)),
    )
    .order_by(image_store.c.zone_id.is_(None), image_store.c.id)
    .limit(1)
)


def _ready_copy(conn: Connection, template_id: int, zone_id: int) -> RowMapping | None:
    """The template's Ready copy on a live image store of the zone (or a region-wide store), if any."""
    return conn.execute(_READY_COPY, {"template": template_id, "zone": zone_id}).mappings().first()


def _progress_of(conn: Connection, template_id: int, zone_id: int) -> str:
    row = (
        conn.execute(
            select(
                template_store_ref.c.download_state, template_store_ref.c.download_pct, template_store_ref.c.error_str
            )
            .join(image_store, image_store.c.id == template_store_ref.c.store_id)
            .where(template_store_ref.c.template_id == template_id, image_store.c.zone_id == zone_id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return "it is not registered for that zone or the zone has no image store"
    if row["error_str"]:
        return f"its download failed: {row['error_str']}"
    return f"download state {row['download_state']}, {row['download_pct']}% done"


def template_for_deploy(conn: Connection, caller: Caller, template_uuid: str, zone_id: int) -> DeployTemplate:
    """The template (or ISO) ``template_uuid`` if ``caller`` may deploy it in zone ``zone_id``.

    Runs inside the caller's transaction (reads only).

    Args:
        conn: a connection (a transaction is fine: nothing slow happens here).
        caller: who deploys.
        template_uuid: ``templateid`` as the client sent it.
        zone_id: the zone's internal id.

    Returns:
        The template's facts and where its Ready copy is in that zone.

    Raises:
        ParamError: no such template (431 "Unable to find template ..."), it is inactive, or it is
            not Ready in that zone (431 "Template ... is not ready in zone ...").
        PermissionDeniedError: the template is private to another account (531).
    """
    row = conn.execute(_LIVE_TEMPLATE, {"uuid": template_uuid.strip().lower()}).mappings().first()
    if row is None:
        raise ParamError(f"Unable to find template with id {template_uuid}; check listTemplates for its id")
    allowed = (
        caller.is_root_admin
        or conn.execute(select(vm_template.c.id).where(vm_template.c.id == row["id"], usable_condition(caller))).first()
    )
    if not allowed:
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to use template {row['name']} ({row['uuid']}); "
            "its owner must share it with updateTemplatePermissions"
        )
    if row["state"] != "Active":
        raise ParamError(f"Template {row['name']} ({row['uuid']}) is {row['state']} and cannot be deployed")
    copy = _ready_copy(conn, row["id"], zone_id)
    if copy is None:
        from provisioner.db.schema import zone

        zone_name = conn.execute(select(zone.c.name).where(zone.c.id == zone_id)).scalar() or str(zone_id)
        raise ParamError(
            f"Template {row['name']} ({row['uuid']}) is not ready in zone {zone_name}: "
            f"{_progress_of(conn, row['id'], zone_id)}; wait until listTemplates shows isready=true"
        )
    from provisioner.services.infrastructure.common import is_simulated_zone

    store_url = str(copy["store_url"]).rstrip("/")
    return DeployTemplate(
        id=row["id"],
        uuid=row["uuid"],
        name=row["name"],
        format=row["format"],
        hypervisor_type=row["hypervisor_type"],
        size=int(row["size"] or copy["size"] or 0),
        os_type_id=row["os_type_id"],
        password_enabled=bool(row["password_enabled"]),
        sshkey_enabled=bool(row["sshkey_enabled"]),
        is_iso=row["format"] == "ISO",
        bootable=bool(row["bootable"]),
        store_id=copy["store_id"],
        store_url=store_url,
        install_path=str(copy["install_path"] or ""),
        install_url=f"{store_url}/{copy['install_path'] or ''}",
        simulated=is_simulated_zone(conn, zone_id),
    )


# -- base images on primary pools ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the first transaction of :func:`acquire_base_image` decided."""

    ref_id: int
    action: str  # "ready" (counted, done) | "copy" (we copy) | "wait" (another caller copies)
    install_path: str | None
    update_count: int
    simulated: bool = False


def _ensure_ref(conn: Connection, template_id: int, pool_id: int) -> RowMapping:
    query = select(template_pool_ref).where(
        template_pool_ref.c.template_id == template_id, template_pool_ref.c.pool_id == pool_id
    )
    row = conn.execute(query).mappings().first()
    if row is not None:
        return row
    try:
        with conn.begin_nested():
            conn.execute(
                insert(template_pool_ref).values(
                    template_id=template_id, pool_id=pool_id, state="Allocated", ref_count=0, last_updated=utcnow()
                )
            )
    except IntegrityError:  # a concurrent caller inserted it first: use theirs
        pass
    return conn.execute(query).mappings().one()


def _claim(conn: Connection, template_id: int, pool_row: Any, lease: float) -> _Claim:
    ref = _ensure_ref(conn, template_id, pool_row["id"])
    if ref["state"] == "Ready":
        # Read before the UPDATE: its row lock (every deployment of the template to the pool takes it) is
        # held until COMMIT, so nothing should run after it.
        simulated = pool_driver_name(conn, pool_row) == SIMULATOR
        counted = conn.execute(
            update(template_pool_ref)
            .where(template_pool_ref.c.id == ref["id"], template_pool_ref.c.state == "Ready")
            .values(ref_count=template_pool_ref.c.ref_count + 1, update_count=template_pool_ref.c.update_count + 1)
        ).rowcount
        if counted == 1:
            return _Claim(ref["id"], "ready", ref["install_path"], ref["update_count"] + 1, simulated)
        return _Claim(ref["id"], "wait", None, ref["update_count"])
    stale = utcnow() - timedelta(seconds=lease)
    takeable = ref["state"] in ("Allocated", "Failed") or (
        ref["state"] in ("Creating", "Destroying") and (ref["last_updated"] is None or ref["last_updated"] < stale)
    )
    if not takeable:
        return _Claim(ref["id"], "wait", None, ref["update_count"])
    claimed = conn.execute(
        update(template_pool_ref)
        .where(template_pool_ref.c.id == ref["id"], template_pool_ref.c.update_count == ref["update_count"])
        .values(
            state="Creating",
            error_str=None,
            last_updated=utcnow(),
            update_count=template_pool_ref.c.update_count + 1,
        )
    ).rowcount
    if claimed != 1:
        return _Claim(ref["id"], "wait", None, ref["update_count"])
    return _Claim(ref["id"], "copy", None, ref["update_count"] + 1)


class _Heartbeat:
    """Renews a ``Creating`` row's ``last_updated`` while a copy runs, so other callers keep waiting."""

    def __init__(self, engine: Engine, ref_id: int, every: float) -> None:
        self._engine, self._ref_id, self._every = engine, ref_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"base-image-lease-{ref_id}", daemon=True)

    def _beat(self, conn: Connection) -> None:
        conn.execute(
            update(template_pool_ref)
            .where(template_pool_ref.c.id == self._ref_id, template_pool_ref.c.state == "Creating")
            .values(last_updated=utcnow())
        )

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                run_in_transaction(self._engine, self._beat)
            except Exception:
                continue

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)


def _source_of(conn: Connection, template_id: int, zone_id: int) -> tuple[RowMapping, RowMapping]:
    template = conn.execute(select(vm_template).where(vm_template.c.id == template_id)).mappings().one()
    copy = _ready_copy(conn, template_id, zone_id)
    if copy is None:
        raise ResourceUnavailableError(
            f"Template {template['name']} ({template['uuid']}) has no Ready copy on an image store of the pool's "
            "zone; wait until listTemplates shows isready=true there"
        )
    return template, copy


def _copy_to_pool(engine: Engine, template_id: int, pool_row: Any) -> tuple[str, int]:
    """Copy the template onto the pool (no transaction open); returns (install path, size)."""

    def read(conn: Connection) -> tuple[RowMapping, RowMapping, str, Any, Any]:
        template, copy = _source_of(conn, template_id, pool_row["zone_id"])
        store_row = conn.execute(select(image_store).where(image_store.c.id == copy["store_id"])).mappings().one()
        return (
            template,
            copy,
            pool_driver_name(conn, pool_row),
            pool_driver(conn, pool_row),
            store_driver(conn, store_row),
        )

    template, copy, driver_name, pool, store = run_in_transaction(engine, read)
    key = base_image_key(template_id)
    fmt = image_format(template["format"])
    if driver_name == SIMULATOR:  # nothing to copy: record the base image so overlays can be made on it
        with pool:
            source = pool.ensure_base_image(key, "", fmt)
            return source.uri, int(template["size"] or copy["size"] or 0)
    with store, pool:
        name = str(copy["install_path"])
        local: Path | None = store.local_path(name)
        origin: str | Path = local if local is not None else store.disk_source(name).uri
        source = pool.ensure_base_image(key, origin, fmt)
        size = pool.get_volume(base_image_name(key)).virtual_size
    return source.uri, int(size)


def _simulated_base_recorded(template_id: int, pool_row: Any) -> bool:
    """Whether a simulated pool (kept in this process's memory) still holds the template's base image."""
    with build_driver(SIMULATOR, str(pool_row["url"]), pool_row.get("details")) as pool:
        try:
            pool.get_volume(base_image_name(base_image_key(template_id)))
        except VolumeNotFoundError:
            return False
    return True


def acquire_base_image(
    engine: Engine,
    template_id: int,
    pool_row: Any,
    *,
    lease_seconds: float = COPY_LEASE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
) -> str:
    """Make sure ``template_id`` has a base image on the pool, and count one more user of it.

    The first use copies the template from a Ready image store copy in the pool's zone with
    ``qemu-img convert`` to qcow2 (the pool driver's ``ensure_base_image``); simulator pools copy
    nothing. Later uses only count. Never call this inside a transaction: it opens its own short
    ones and copies between them.

    Args:
        engine: the database engine (not a connection: each step commits on its own).
        template_id: ``vm_template.id`` (``DeployTemplate.id``).
        pool_row: the ``storage_pool`` row (a mapping with id, zone_id, url, pool_type, details,
            hypervisor_type) chosen by the allocator.
        lease_seconds: how long a copier may go silent before another caller takes its copy over.
        wait_seconds: how long to wait for another caller's copy before giving up.

    Returns:
        Where the base image is: a path, or an ``nfs://`` URL for user-space pools (what an overlay's
        backing file resolves to). Make the VM's volume with
        ``driver.create_overlay(base_image_key(template_id), name, size)``.

    Raises:
        ResourceUnavailableError: the template has no Ready copy in the pool's zone (534), or the
            copy failed (its reason; the next call retries) or another caller's copy took longer
            than ``wait_seconds``.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        claim = run_in_transaction(engine, lambda conn: _claim(conn, template_id, pool_row, lease_seconds))
        if claim.action == "ready":
            if claim.simulated and not _simulated_base_recorded(template_id, pool_row):
                # The simulator's pools live in memory: re-record the base after a restart (once, not per deploy).
                _copy_to_pool(engine, template_id, pool_row)
            return str(claim.install_path)
        if claim.action == "copy":
            return _run_copy(engine, template_id, pool_row, claim, lease_seconds)
        if time.monotonic() >= deadline:
            raise ResourceUnavailableError(
                f"The base image of template {template_id} on pool {pool_row['id']} is still being copied by "
                f"another operation after {wait_seconds:.0f} s; try again later"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _run_copy(engine: Engine, template_id: int, pool_row: Any, claim: _Claim, lease_seconds: float) -> str:
    try:
        with _Heartbeat(engine, claim.ref_id, max(0.5, lease_seconds / 4)):
            path, size = _copy_to_pool(engine, template_id, pool_row)
    except Exception as exc:
        reason = str(exc) or type(exc).__name__

        def failed(conn: Connection) -> None:
            conn.execute(
                update(template_pool_ref)
                .where(template_pool_ref.c.id == claim.ref_id, template_pool_ref.c.state == "Creating")
                .values(state="Failed", error_str=reason[:4000], last_updated=utcnow())
            )

        run_in_transaction(engine, failed)
        raise ResourceUnavailableError(
            f"Copying template {template_id} to primary storage pool {pool_row['id']} failed: {reason}"
        ) from exc

    def ready(conn: Connection) -> int:
        return conn.execute(
            update(template_pool_ref)
            .where(template_pool_ref.c.id == claim.ref_id, template_pool_ref.c.update_count == claim.update_count)
            .values(
                state="Ready",
                install_path=path,
                size=size,
                error_str=None,
                ref_count=template_pool_ref.c.ref_count + 1,
                last_updated=utcnow(),
                update_count=template_pool_ref.c.update_count + 1,
            )
        ).rowcount

    if run_in_transaction(engine, ready) != 1:
        raise InternalError(
            f"The base image of template {template_id} on pool {pool_row['id']} was taken over by another "
            "operation while it was copied (the copy was too slow to renew its lease); try again"
        )
    return path


def release_base_image(engine: Engine, template_id: int, pool_row: Any, *, remove_unused: bool = True) -> bool:
    """Count one user less of the template's base image on the pool; remove the image when none is left.

    Never call this inside a transaction (it may delete the image from the pool between its own
    short transactions). Releasing a base image that is not recorded does nothing.

    Args:
        engine: the database engine.
        template_id: ``vm_template.id``.
        pool_row: the ``storage_pool`` row.
        remove_unused: delete the base image from the pool when its last user goes (else keep it
            for the next deploy; the count still drops).

    Returns:
        True when the base image was removed from the pool.
    """

    def decrement(conn: Connection) -> tuple[int, int] | None:
        ref = (
            conn.execute(
                select(template_pool_ref).where(
                    template_pool_ref.c.template_id == template_id, template_pool_ref.c.pool_id == pool_row["id"]
                )
            )
            .mappings()
            .first()
        )
        if ref is None or ref["ref_count"] <= 0:
            return None
        conn.execute(
            update(template_pool_ref)
            .where(template_pool_ref.c.id == ref["id"], template_pool_ref.c.ref_count > 0)
            .values(ref_count=template_pool_ref.c.ref_count - 1, update_count=template_pool_ref.c.update_count + 1)
        )
        if not remove_unused:
            return None
        # Claim the removal only if nobody acquired it meanwhile (the count is still zero).
        claimed = conn.execute(
            update(template_pool_ref)
            .where(
                template_pool_ref.c.id == ref["id"],
                template_pool_ref.c.ref_count == 0,
                template_pool_ref.c.state == "Ready",
            )
            .values(state="Destroying", last_updated=utcnow(), update_count=template_pool_ref.c.update_count + 1)
        ).rowcount
        if claimed != 1:
            return None
        return ref["id"], ref["update_count"] + 2

    claimed = run_in_transaction(engine, decrement)
    if claimed is None:
        return False
    ref_id, seen = claimed
    driver = run_in_transaction(engine, lambda conn: pool_driver(conn, pool_row))
    with driver:
        driver.delete_volume(base_image_name(base_image_key(template_id)))

    def forget(conn: Connection) -> None:
        conn.execute(
            delete(template_pool_ref).where(
                template_pool_ref.c.id == ref_id,
                template_pool_ref.c.state == "Destroying",
                template_pool_ref.c.update_count == seen,
            )
        )

    run_in_transaction(engine, forget)
    return True


def pool_row_by_id(conn: Connection, pool_id: int) -> RowMapping:
    """The ``storage_pool`` row :func:`acquire_base_image` needs, by internal id."""
    return conn.execute(select(storage_pool).where(storage_pool.c.id == pool_id)).mappings().one()
