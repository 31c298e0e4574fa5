"""Disk offerings (``createDiskOffering``, ``updateDiskOffering``, ``listDiskOfferings``, delete)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import disk_offering
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    get_live,
    join_csv,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.service_offerings import (
    GIB,
    PROVISIONING_TYPES,
    STORAGE_TYPES,
    OfferingUsage,
)
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.principal import Caller

#: The largest fixed disk offering, in GiB (CloudStack's ``storage.max.volume.size`` default).
MAX_DISK_GIB = 2000


def disk_offering_row(m: RowMapping) -> Row:
    """A ``disk_offering`` row as ``DiskOfferingResponse`` (``disksize`` in GiB)."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displaytext": m["display_text"],
        "disksize": m["disk_size"] // GIB,
        "iscustomized": bool(m["is_customized"]),
        "storagetype": m["storage_type"],
        "provisioningtype": m["provisioning_type"],
        "tags": m["tags"],
        "miniops": m["min_iops"],
        "maxiops": m["max_iops"],
        "displayoffering": bool(m["display_offering"]),
        "state": m["state"],
        "created": m["created"],
    }


def create_disk_offering(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    displaytext: str | None = None,
    disksize: int | None = None,
    customized: bool | None = None,
    storagetype: str = "shared",
    provisioningtype: str = "thin",
    tags: str | Sequence[str] | None = None,
    miniops: int | None = None,
    maxiops: int | None = None,
    displayoffering: bool = True,
) -> Row:
    """Create a disk offering: a fixed ``disksize`` in GiB, or ``customized`` (the size comes with the volume).

    Raises:
        ParamError: neither a size nor customized, or a size that is not positive (431).
    """
    require_root(caller, "createDiskOffering")
    is_custom = bool(customized) if customized is not None else not disksize
    if not is_custom and (disksize is None or disksize <= 0):
        raise ParamError("Disk size must be greater than 0 for a non-customized disk offering")
    if not is_custom and disksize is not None and disksize > MAX_DISK_GIB:
        # CloudStack's bound (storage.max.volume.size); also keeps the byte count within a 64-bit column.
        raise ParamError(f"The maximum size for a disk is {MAX_DISK_GIB} Gb.")
    new_id = conn.execute(
        insert(disk_offering).values(
            name=name,
            display_text=displaytext or name,
            disk_size=0 if is_custom else int(disksize or 0) * GIB,
            is_customized=is_custom,
            storage_type=canonical(storagetype, STORAGE_TYPES, "storage type"),
            provisioning_type=canonical(provisioningtype, PROVISIONING_TYPES, "provisioning type"),
            tags=join_csv(split_csv(tags)),
            min_iops=miniops,
            max_iops=maxiops,
            display_offering=displayoffering,
        )
    ).inserted_primary_key
    assert new_id is not None
    return disk_offering_row(
        conn.execute(select(disk_offering).where(disk_offering.c.id == new_id[0])).mappings().one()
    )


def update_disk_offering(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    displaytext: str | None = None,
    sortkey: int | None = None,
    displayoffering: bool | None = None,
    tags: str | Sequence[str] | None = None,
) -> Row:
    """Change a disk offering's names, order, visibility or tags (``updateDiskOffering``)."""
    require_root(caller, "updateDiskOffering")
    row = get_live(conn, disk_offering, id)
    values: dict[str, Any] = {}
    if name:
        values["name"] = name
    if displaytext:
        values["display_text"] = displaytext
    if sortkey is not None:
        values["sort_key"] = sortkey
    if displayoffering is not None:
        values["display_offering"] = displayoffering
    if tags is not None:
        values["tags"] = join_csv(split_csv(tags))
    if values:
        conn.execute(update(disk_offering).where(disk_offering.c.id == row["id"]).values(**values))
    return disk_offering_row(
        conn.execute(select(disk_offering).where(disk_offering.c.id == row["id"])).mappings().one()
    )


def list_disk_offerings(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    storagetype: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List disk offerings (``listDiskOfferings``); users see the displayed ones."""
    table = disk_offering
    conditions = common_filters(table, id=id, ids=ids, name=name, keyword=keyword)
    if storagetype:
        conditions.append(table.c.storage_type == canonical(storagetype, STORAGE_TYPES, "storage type"))
    if not caller.is_root_admin:
        conditions.append(table.c.display_offering.is_(True))
    rows, total = list_page(conn, select(table).where(*conditions), [table.c.sort_key, table.c.id], page, pagesize)
    return [disk_offering_row(m) for m in rows], total


def delete_disk_offering(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    in_use: OfferingUsage | None = None,
) -> None:
    """Remove a disk offering (``deleteDiskOffering``).

    Raises:
        ResourceInUseError: volumes still use it (536).
    """
    require_root(caller, "deleteDiskOffering")
    row = get_live(conn, disk_offering, id)
    if in_use is not None and in_use(row["uuid"]):
        raise ResourceInUseError(f"Disk offering {row['name']} is in use by volumes")
    conn.execute(update(disk_offering).where(disk_offering.c.id == row["id"]).values(state="Inactive"))
    soft_delete(conn, disk_offering, row["id"])
