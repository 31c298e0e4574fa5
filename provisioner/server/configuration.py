"""Listing and changing configuration values, global and scoped (``listConfigurations``, ``updateConfiguration``).

The defaults and the scope fallback are the identity service's (``configuration.config_value``); scoped
writes go through the infrastructure settings (``settings.set_scoped_value``). This module adds the list
view and the global write, which no service offered yet.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select, update

from provisioner.db.schema import account, cluster, configuration, domain, image_store, storage_pool, utcnow, zone
from provisioner.exceptions import ParamError
from provisioner.services.common import count_of, paginate
from provisioner.services.infrastructure.common import contains, get_live, require_root
from provisioner.services.infrastructure.settings import set_scoped_value
from provisioner.services.principal import Caller

#: Scope name to the table whose internal id a scoped row carries.
SCOPE_TABLES: dict[str, Table] = {
    "zone": zone,
    "cluster": cluster,
    "storagepool": storage_pool,
    "account": account,
    "domain": domain,
    "imagestore": image_store,
}


def scope_id(conn: Connection, scope: str, uuid: str, param: str) -> int:
    """The internal id of the scoped object (431 with the verbatim unknown-id text when absent)."""
    return int(get_live(conn, SCOPE_TABLES[scope], uuid, param)["id"])


def _row(m: Any, scope: str, value: Any) -> dict[str, Any]:
    return {
        "name": m["name"],
        "value": value,
        "category": m["category"],
        "description": m["description"],
        "scope": scope,
        "isdynamic": bool(m["is_dynamic"]),
        "defaultvalue": m["default_value"],
    }


def list_configurations(
    conn: Connection,
    caller: Caller,
    *,
    name: str | None = None,
    category: str | None = None,
    keyword: str | None = None,
    scope: str | None = None,
    scope_pk: int | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Settings (root admin only); with a scope, the settings of that scope with the object's own values.

    Returns:
        (total count, one page of wire rows).
    """
    require_root(caller, "listConfigurations")
    query = select(configuration).where(configuration.c.scope_id == 0).order_by(configuration.c.name)
    if name:
        query = query.where(contains(configuration.c.name, name))
    if category:
        query = query.where(configuration.c.category == category)
    if keyword:
        query = query.where(contains(configuration.c.name, keyword))
    if scope is not None:
        query = query.where(configuration.c.scope == scope)
    total = count_of(conn, query)
    rows = list(conn.execute(paginate(query, page, pagesize)).mappings())
    if scope is None or scope_pk is None:
        return total, [_row(m, m["scope"], m["value"]) for m in rows]
    own: dict[str, Any] = dict(
        conn.execute(
            select(configuration.c.name, configuration.c.value).where(
                configuration.c.name.in_([m["name"] for m in rows]),
                configuration.c.scope == scope,
                configuration.c.scope_id == scope_pk,
            )
        )
        .tuples()
        .all()  # dict() of a Result would take its keys() for a mapping's
    )
    return total, [_row(m, scope, own.get(m["name"], m["value"])) for m in rows]


def update_configuration(
    conn: Connection,
    caller: Caller,
    name: str,
    value: str | None,
    *,
    scope: str | None = None,
    scope_pk: int | None = None,
) -> dict[str, Any]:
    """Change a global value, or the value for one zone, cluster, pool, account, domain or image store.

    A missing ``value`` restores the default. Returns the wire row of the changed setting.

    Raises:
        ParamError: unknown setting, or a global-only setting given a scope (431).
    """
    require_root(caller, "updateConfiguration")
    found = conn.execute(select(configuration).where(configuration.c.name == name, configuration.c.scope_id == 0))
    base = found.mappings().first()
    if base is None:
        raise ParamError(f"Invalid parameter name value={name}: configuration not found")
    new_value = value if value is not None else base["default_value"]
    if scope is None or scope_pk is None:
        conn.execute(
            update(configuration).where(configuration.c.id == base["id"]).values(value=new_value, updated=utcnow())
        )
        return _row(base, base["scope"], new_value)
    if base["scope"] == "global":
        raise ParamError(f"Configuration {name} can only be set globally")
    set_scoped_value(conn, name, new_value or "", scope, scope_pk)
    return _row(base, scope, new_value)
