"""Guest OS categories and types (``listOsTypes``, ``listOsCategories``), readable by every caller."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, select

from provisioner.db.schema import os_category, os_type
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import Row, common_filters
from provisioner.services.principal import Caller


def os_type_row(m: RowMapping) -> Row:
    """An OS type as ``GuestOSResponse``."""
    return {
        "id": m["uuid"],
        "description": m["description"],
        "name": m["description"],
        "oscategoryid": m["category_uuid"],
        "oscategoryname": m["category_name"],
        "isuserdefined": bool(m["is_user_defined"]),
        "fordisplay": bool(m["for_display"]),
    }


def list_os_types(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    description: str | None = None,
    keyword: str | None = None,
    oscategoryid: str | None = None,
    fordisplay: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List guest OS types (``listOsTypes``); ``description`` is exact, ``keyword`` a substring."""
    conditions = common_filters(
        os_type, id=id, ids=ids, name=description, keyword=keyword, name_column=os_type.c.description
    )
    if oscategoryid:
        conditions.append(os_category.c.uuid == oscategoryid.lower())
    if fordisplay is not None:
        conditions.append(os_type.c.for_display.is_(fordisplay))
    query = (
        select(os_type, os_category.c.uuid.label("category_uuid"), os_category.c.name.label("category_name"))
        .join(os_category, os_category.c.id == os_type.c.category_id)
        .where(*conditions)
    )
    rows, total = list_page(conn, query, [os_type.c.id], page, pagesize)
    return [os_type_row(m) for m in rows], total


def list_os_categories(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List guest OS categories (``listOsCategories``)."""
    conditions = common_filters(os_category, id=id, name=name, keyword=keyword)
    rows, total = list_page(conn, select(os_category).where(*conditions), [os_category.c.id], page, pagesize)
    return [{"id": m["uuid"], "name": m["name"]} for m in rows], total
