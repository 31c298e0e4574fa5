"""Default configuration rows (CloudStack names and defaults) and value lookup with scope fallback."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from provisioner.db.schema import configuration


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
        "enforce.post.requests.and.timestamps", "false", "Advanced", "Require POST and a timestamp on signed requests"
    ),
    Setting("allow.user.expunge.recover.vm", "false", "Advanced", "Users may expunge and recover VMs", "account"),
    Setting(
        "integration.api.port", "0", "Advanced", "Unauthenticated API port on loopback (0 = off)", is_dynamic=False
    ),
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


def config_value(conn: Connection, name: str, scope: str = "global", scope_id: int = 0) -> str | None:
    """The value at a scope, falling back to the global row, then to the built-in default."""
    rows = conn.execute(
        select(configuration.c.scope_id, configuration.c.value).where(
            configuration.c.name == name,
            ((configuration.c.scope == scope) & (configuration.c.scope_id == scope_id))
            | (configuration.c.scope_id == 0),
        )
    ).all()
    by_scope: dict[int, str | None] = {row.scope_id: row.value for row in rows}
    if scope_id in by_scope:
        return by_scope[scope_id]
    if 0 in by_scope:
        return by_scope[0]
    setting = DEFAULTS_BY_NAME.get(name)
    return setting.default if setting else None
