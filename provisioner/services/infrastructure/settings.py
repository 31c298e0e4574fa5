"""Scoped settings for infrastructure: over-provisioning factors and thresholds per cluster, zone or pool.

Reading one value goes through the configuration service (:func:`config_value`); this module adds
the two things infrastructure needs besides: writing a scoped value, and reading a scoped value
*inside* a list or capacity query as a SQL expression, so a page of clusters or a capacity sum
costs one statement however many clusters carry their own factor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Float, cast, func, insert, literal, select, update

from provisioner.db.schema import configuration, utcnow
from provisioner.exceptions import ParamError
from provisioner.services.identity.configuration import DEFAULTS_BY_NAME, config_value

CPU_OVERPROVISIONING = "cpu.overprovisioning.factor"
MEM_OVERPROVISIONING = "mem.overprovisioning.factor"
STORAGE_OVERPROVISIONING = "storage.overprovisioning.factor"
CLUSTER_CPU_THRESHOLD = "cluster.cpu.allocated.capacity.disablethreshold"
CLUSTER_MEMORY_THRESHOLD = "cluster.memory.allocated.capacity.disablethreshold"
POOL_USED_THRESHOLD = "pool.storage.capacity.disablethreshold"
POOL_ALLOCATED_THRESHOLD = "pool.storage.allocated.capacity.disablethreshold"

#: The scopes CloudStack's ``updateConfiguration`` takes, keyed by its id parameter.
SCOPES = ("global", "zone", "cluster", "storagepool", "account", "domain", "imagestore")

#: Storage over-provisioning applies to these pool types only (``StorageManager``: NFS and VMFS-like pools).
OVERPROVISIONED_POOL_TYPES = ("NetworkFilesystem", "VMFS", "PreSetup", "DatastoreCluster")


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
