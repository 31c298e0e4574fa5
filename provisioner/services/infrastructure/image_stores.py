"""Secondary storage (``addImageStore``, ``addSecondaryStorage``, ``listImageStores``, ``deleteImageStore``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping, insert, select

from provisioner.db.schema import image_store, zone
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import (
    SIMULATED_CAPACITY,
    Row,
    common_filters,
    exists,
    get_live,
    is_simulated_zone,
    require_root,
    soft_delete,
)
from provisioner.services.principal import Caller

IMAGE_PROVIDERS = ("NFS", "S3", "Swift", "SMB")
#: Answers whether templates, ISOs or snapshots still live on a store (by UUID).
StoreUsage = Callable[[str], bool]


def store_row(m: RowMapping) -> Row:
    """An ``image_store`` row joined with its zone, as ``ImageStoreResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "url": m["url"],
        "protocol": m["protocol"],
        "providername": m["provider"],
        "scope": m["scope"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "readonly": bool(m["readonly"]),
        "disksizetotal": m["capacity_bytes"],
        "disksizeused": m["used_bytes"],
        "created": m["created"],
    }


def _select() -> Any:
    return select(image_store, zone.c.uuid.label("zone_uuid"), zone.c.name.label("zone_name")).outerjoin(
        zone, zone.c.id == image_store.c.zone_id
    )


def _provider(value: str) -> str:
    for name in IMAGE_PROVIDERS:
        if name.lower() == value.strip().lower():
            return name
    raise ParamError(f"Unable to find image store provider {value}; it must be one of {', '.join(IMAGE_PROVIDERS)}")


def add_image_store(
    conn: Connection,
    caller: Caller,
    *,
    provider: str = "NFS",
    url: str | None = None,
    zoneid: str | None = None,
    name: str | None = None,
    details: Mapping[str, str] | None = None,
) -> Row:
    """Add secondary storage (``addImageStore``). NFS needs ``url`` and ``zoneid``; S3/Swift are region-wide.

    In a simulated zone nothing is contacted and the store reports 1 TiB; elsewhere its total and used
    bytes are the store's own, which :func:`.storage_stats.refresh_stores` records once this
    transaction has committed (the ``addImageStore`` command at once, then every round).

    Raises:
        ParamError: unknown zone or provider, a missing or non-NFS URL for NFS, or a duplicate URL.
    """
    require_root(caller, "addImageStore")
    kind = _provider(provider)
    if kind in ("NFS", "SMB") and (not url or not zoneid):
        raise ParamError(f"{kind} image stores need url and zoneid")
    zone_row = get_live(conn, zone, zoneid, "zoneid") if zoneid else None
    location = url or (details or {}).get("endpoint", "")
    scheme = urlsplit(location).scheme.lower()
    if kind == "NFS" and scheme != "nfs":
        raise ParamError(f"Unsupported scheme for NFS image store: {location}; use nfs://host/path")
    if kind == "NFS" and not (urlsplit(location).hostname and urlsplit(location).path.strip("/")):
        raise ParamError(f"The NFS image store URL {location} needs a host and a path")
    if exists(conn, image_store, image_store.c.url == location):
        raise ParamError(f"The image store with url {location} already exists")
    simulated = zone_row is not None and is_simulated_zone(conn, zone_row["id"])
    size = SIMULATED_CAPACITY if simulated else 0  # else measured by the storage stats, no transaction open
    new_id = conn.execute(
        insert(image_store).values(
            name=name or location,
            url=location,
            protocol={"nfs": "nfs", "cifs": "cifs", "smb": "cifs"}.get(scheme, scheme or "http"),
            provider=kind,
            scope="ZONE" if zone_row is not None else "REGION",
            zone_id=zone_row["id"] if zone_row is not None else None,
            capacity_bytes=size,
            details=dict(details or {}),
        )
    ).inserted_primary_key
    assert new_id is not None
    return store_row(conn.execute(_select().where(image_store.c.id == new_id[0])).mappings().one())


def add_secondary_storage(conn: Connection, caller: Caller, *, url: str, zoneid: str | None = None) -> Row:
    """``addSecondaryStorage``: the legacy NFS-only form of :func:`add_image_store`."""
    return add_image_store(conn, caller, provider="NFS", url=url, zoneid=zoneid)


def list_image_stores(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    zoneid: str | None = None,
    provider: str | None = None,
    protocol: str | None = None,
    readonly: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List secondary storage (``listImageStores``), root admin only."""
    require_root(caller, "listImageStores")
    conditions = common_filters(image_store, id=id, ids=ids, name=name, keyword=keyword)
    if zoneid:
        conditions.append(zone.c.uuid == zoneid.lower())
    if provider:
        conditions.append(image_store.c.provider == _provider(provider))
    if protocol:
        conditions.append(image_store.c.protocol == protocol.lower())
    if readonly is not None:
        conditions.append(image_store.c.readonly == readonly)
    rows, total = list_page(conn, _select().where(*conditions), [image_store.c.id], page, pagesize)
    return [store_row(m) for m in rows], total


def delete_image_store(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    in_use: StoreUsage | None = None,
) -> None:
    """Remove a store (``deleteImageStore``).

    Raises:
        ResourceInUseError: templates, ISOs or snapshots still live on it (536, CloudStack's text).
    """
    require_root(caller, "deleteImageStore")
    row = get_live(conn, image_store, id)
    busy = in_use(row["uuid"]) if in_use is not None else row["used_bytes"] > 0
    if busy:
        raise ResourceInUseError("Cannot delete image store with active templates backup!")
    soft_delete(conn, image_store, row["id"])
