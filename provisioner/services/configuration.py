"""Configuration: CloudStack's settings, their defaults, and reading and writing them globally or per scope.

The one owner of the ``configuration`` table: seeding the defaults, reading a value with its scope
fallback (in Python, or as a SQL expression inside a list or capacity query so a page costs one
statement), writing a global or a scoped value, and the ``listConfigurations``/``updateConfiguration``
views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Float, Table, bindparam, cast, func, insert, literal, select, update

from provisioner.db.schema import account, cluster, configuration, domain, image_store, storage_pool, utcnow, zone
from provisioner.exceptions import ParamError
from provisioner.services.common import contains, count_of, paginate
from provisioner.services.infrastructure.common import get_live, require_root
from provisioner.services.principal import Caller

#: The scopes CloudStack's ``updateConfiguration`` takes, keyed by its id parameter.
SCOPES = ("global", "zone", "cluster", "storagepool", "account", "domain", "imagestore")


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key as CloudStack declares it (``ConfigKey``)."""

    name: str
    default: str
    category: str
    description: str
    scope: str = "global"
    is_dynamic: bool = True


DEFAULTS: tuple[Setting, ...] = (
    Setting("expunge.delay", "86400", "Advanced", "Seconds to wait before expunging a destroyed VM"),
    Setting("expunge.interval", "86400", "Advanced", "Seconds between runs of the expunge thread"),
    Setting("cpu.overprovisioning.factor", "1", "Advanced", "CPU over-provisioning factor", "cluster"),
    Setting("mem.overprovisioning.factor", "1", "Advanced", "Memory over-provisioning factor", "cluster"),
    Setting("storage.overprovisioning.factor", "2", "Storage", "Storage over-provisioning factor", "storagepool"),
    Setting(
        "cluster.cpu.allocated.capacity.disablethreshold",
        "0.85",
        "Alert",
        "Allocated CPU share above which a cluster gets no new VMs",
        "cluster",
    ),
    Setting(
        "cluster.memory.allocated.capacity.disablethreshold",
        "0.85",
        "Alert",
        "Allocated memory share above which a cluster gets no new VMs",
        "cluster",
    ),
    Setting(
        "pool.storage.capacity.disablethreshold",
        "0.85",
        "Alert",
        "Used share above which a pool gets no volumes",
        "zone",
    ),
    Setting(
        "pool.storage.allocated.capacity.disablethreshold",
        "0.85",
        "Alert",
        "Allocated share above which a pool gets no volumes",
        "zone",
    ),
    Setting("vm.allocation.algorithm", "random", "Advanced", "random, firstfit, userdispersing, userconcentratedpod_*"),
    Setting("default.page.size", "500", "Advanced", "Default page size for list APIs"),
    Setting("job.expire.minutes", "1440", "Advanced", "Minutes after which finished jobs are purged"),
    Setting("job.cancel.threshold.minutes", "60", "Advanced", "Minutes a queued job may block others before it fails"),
    Setting(
        "api.sessionkey.check.locations",
        "CookieAndParameter",
        "Advanced",
        "Where the session key must be: CookieOrParameter, ParameterOnly, CookieAndParameter",
    ),
    Setting(
        "enforce.post.requests.and.timestamps",
        "false",
        "Advanced",
        "Require POST and a timestamp on signed requests",
        is_dynamic=False,
    ),
    Setting("api.throttling.enabled", "false", "Advanced", "Limit API requests per user", is_dynamic=False),
    Setting("api.throttling.interval", "1", "Advanced", "Seconds of one throttling window", is_dynamic=False),
    Setting("api.throttling.max", "25", "Advanced", "API requests a user may make per window", is_dynamic=False),
    Setting(
        "api.source.cidr.checks.enabled",
        "true",
        "Advanced",
        "Check callers' addresses against api.allowed.source.cidr.list",
        is_dynamic=False,
    ),
    Setting(
        "api.allowed.source.cidr.list",
        "0.0.0.0/0,::/0",
        "Secure",
        "Comma-separated CIDRs API callers may come from",
        is_dynamic=False,
    ),
    Setting(
        "enable.dynamic.scale.vm",
        "false",
        "Advanced",
        "Enables/Disables dynamically scaling a vm (a running VM of a dynamically scalable template started "
        "while it is true can be scaled live)",
        "zone",
    ),
    Setting(
        "vm.serviceoffering.cpu.cores.max",
        "0",
        "Advanced",
        "vCPUs a VM of a dynamically scalable template can grow to while running (0: the host's cores)",
    ),
    Setting(
        "vm.serviceoffering.ram.size.max",
        "0",
        "Advanced",
        "MiB of memory a VM of a dynamically scalable template can grow to while running (0: the host's memory)",
    ),
    Setting("allow.user.expunge.recover.vm", "false", "Advanced", "Users may expunge and recover VMs", "account"),
    Setting(
        "integration.api.port", "0", "Advanced", "Unauthenticated API port on loopback (0 = off)", is_dynamic=False
    ),
    Setting(
        "ping.interval",
        "60",
        "Advanced",
        "Interval to send application level pings to make sure the connection is still working",
    ),
    Setting("ping.timeout", "2.5", "Advanced", "Multiplier to ping.interval before announcing an agent has timed out"),
    Setting("cluster.heartbeat.interval", "1500", "Management Server", "Milliseconds between node heartbeats"),
    Setting("cluster.heartbeat.threshold", "150000", "Management Server", "Milliseconds without heartbeat = node dead"),
)
DEFAULTS_BY_NAME = {setting.name: setting for setting in DEFAULTS}


def seed_configuration(conn: Connection) -> int:
    """Insert the global rows that are missing (new defaults also arrive on upgrade); returns how many."""
    present = set(conn.execute(select(configuration.c.name).where(configuration.c.scope_id == 0)).scalars())
    added = 0
    for setting in DEFAULTS:
        if setting.name in present:
            continue
        conn.execute(
            insert(configuration).values(
                name=setting.name,
                value=setting.default,
                default_value=setting.default,
                category=setting.category,
                description=setting.description,
                scope=setting.scope,
                scope_id=0,
                is_dynamic=setting.is_dynamic,
            )
        )
        added += 1
    return added


#: Built once: settings are read on every deployment, and building a statement costs more than running it.
_SCOPED_VALUE = select(configuration.c.scope_id, configuration.c.value).where(
    configuration.c.name == bindparam("name"),
    ((configuration.c.scope == bindparam("scope")) & (configuration.c.scope_id == bindparam("scope_id")))
    | (configuration.c.scope_id == 0),
)


def config_value(conn: Connection, name: str, scope: str = "global", scope_id: int = 0) -> str | None:
    """The value at a scope, falling back to the global row, then to the built-in default."""
    rows = conn.execute(_SCOPED_VALUE, {"name": name, "scope": scope, "scope_id": scope_id}).all()
    by_scope: dict[int, str | None] = {row.scope_id: row.value for row in rows}
    if scope_id in by_scope:
        return by_scope[scope_id]
    if 0 in by_scope:
        return by_scope[0]
    setting = DEFAULTS_BY_NAME.get(name)
    return setting.default if setting else None


def default_float(name: str) -> float:
    """The built-in default of a numeric setting."""
    setting = DEFAULTS_BY_NAME.get(name)
    return float(setting.default) if setting else 1.0


def scoped_float(conn: Connection, name: str, scope: str = "global", scope_id: int = 0) -> float:
    """A numeric setting at ``scope`` (falling back to global, then the default).

    Raises:
        ParamError: the stored value is not a number (431).
    """
    value = config_value(conn, name, scope, scope_id)
    try:
        return float(value) if value is not None else default_float(name)
    except ValueError:
        raise ParamError(f"Setting {name} has the non-numeric value {value!r}") from None


def scoped_float_expr(name: str, scope: str, scope_id: Any) -> Any:
    """A SQL expression for a numeric setting of the object whose internal id is ``scope_id`` (a column).

    Two correlated scalar subqueries on the unique (name, scope, scope_id) index: the scoped row,
    else the global row, else the built-in default.
    """

    value = cast(configuration.c.value, Float)
    scoped = select(value).where(
        configuration.c.name == name, configuration.c.scope == scope, configuration.c.scope_id == scope_id
    )
    # The global row has scope_id 0 whatever its scope column says (the seed stores the widest scope).
    global_ = select(value).where(configuration.c.name == name, configuration.c.scope_id == 0).limit(1)
    return func.coalesce(scoped.scalar_subquery(), global_.scalar_subquery(), literal(default_float(name), Float))


def set_scoped_value(conn: Connection, name: str, value: str, scope: str, scope_id: int) -> None:
    """Create or change the value of ``name`` for one zone, cluster, pool... (``updateConfiguration``)."""
    if scope not in SCOPES or scope == "global":
        raise ParamError(f"Invalid scope {scope!r} for setting {name}")
    setting = DEFAULTS_BY_NAME.get(name)
    changed = conn.execute(
        update(configuration)
        .where(configuration.c.name == name, configuration.c.scope == scope, configuration.c.scope_id == scope_id)
        .values(value=value, updated=utcnow())
    ).rowcount
    if not changed:
        conn.execute(
            insert(configuration).values(
                name=name,
                value=value,
                default_value=setting.default if setting else None,
                category=setting.category if setting else "Advanced",
                description=setting.description if setting else None,
                scope=scope,
                scope_id=scope_id,
                is_dynamic=True,
                updated=utcnow(),
            )
        )


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
