"""Which image stores must hold which templates: the ``template_store_ref`` rows the reconciler works on.

A template belongs on every live image store (role ``Image``) of every zone it is registered for
(``template_zone_ref``), or of every zone when it is cross-zone. :func:`ensure_store_refs` adds the
missing rows (``Allocated``), so a store or zone added later receives its templates by itself.
Templates for the ``Simulator`` hypervisor only go to simulated stores (a real store could not
fetch their made-up URLs).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, exists, insert, or_, select, true
from sqlalchemy.exc import IntegrityError

from provisioner.db.schema import image_store, template_store_ref, template_zone_ref, utcnow, vm_template
from provisioner.services.templates.stores import SIMULATOR, store_driver_name


def _wanted_pairs(conn: Connection, template_id: int | None) -> list[tuple[int, int, int | None, str | None]]:
    registered = exists(
        select(template_zone_ref.c.id).where(
            template_zone_ref.c.template_id == vm_template.c.id,
            template_zone_ref.c.zone_id == image_store.c.zone_id,
            template_zone_ref.c.removed.is_(None),
        )
    )
    present = exists(
        select(template_store_ref.c.id).where(
            template_store_ref.c.template_id == vm_template.c.id, template_store_ref.c.store_id == image_store.c.id
        )
    )
    query = (
        select(vm_template.c.id, image_store.c.id, image_store.c.zone_id, vm_template.c.hypervisor_type)
        .select_from(vm_template)
        .join(image_store, true())  # every (template, store) pair, filtered below
    ).where(
        vm_template.c.removed.is_(None),
        image_store.c.removed.is_(None),
        image_store.c.role == "Image",
        or_(and_(vm_template.c.cross_zones.is_(True), image_store.c.zone_id.is_not(None)), registered),
        ~present,
    )
    if template_id is not None:
        query = query.where(vm_template.c.id == template_id)
    return [(t, s, z, h) for t, s, z, h in conn.execute(query).tuples()]


def ensure_store_refs(conn: Connection, template_id: int | None = None) -> int:
    """Add the missing (template, image store) rows, for one template or all; returns how many.

    Safe under concurrency: the (template, store) pair is unique, and a row another server added
    first is simply skipped.
    """
    added = 0
    simulated: dict[int, bool] = {}
    for tid, store_id, zone_id, hypervisor in _wanted_pairs(conn, template_id):
        if store_id not in simulated:
            store = conn.execute(select(image_store).where(image_store.c.id == store_id)).mappings().one()
            simulated[store_id] = store_driver_name(conn, store) == SIMULATOR
        if hypervisor == "Simulator" and not simulated[store_id]:
            continue
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(template_store_ref).values(
                        template_id=tid,
                        store_id=store_id,
                        zone_id=zone_id,
                        state="Allocated",
                        download_state="NOT_DOWNLOADED",
                        download_pct=0,
                        last_updated=utcnow(),
                    )
                )
            added += 1
        except IntegrityError:
            continue
    return added
