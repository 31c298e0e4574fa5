"""The template area's configuration keys: download safety and limits, simulator delay, rhythms.

The keys are seeded into the ``configuration`` table by :func:`seed_template_settings` (so
``listConfigurations`` shows them and ``updateConfiguration`` changes them) and read at every use,
so a change takes effect without a restart.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import Connection, insert, select

from provisioner.db.schema import configuration
from provisioner.services.configuration import Setting, config_value
from provisioner.storage.replication.download import DownloadSettings

ALLOW_PRIVATE = "secstorage.allow.private.download"
ALLOWED_SITES = "secstorage.allowed.internal.download.sites"
MAX_SIZE_GB = "max.template.iso.size"
SIM_DELAY = "sim.template.download.delay"
RECONCILE_INTERVAL = "template.reconcile.interval"
LEASE_SECONDS = "template.download.lease"
MAX_ATTEMPTS = "template.download.max.attempts"
EXTRACT_EXPIRATION = "extract.url.expiration.interval"
EXTRACT_CLEANUP_INTERVAL = "extract.url.cleanup.interval"
EXTRACT_URL_BASE = "extract.url.base"
STORAGE_STATS_INTERVAL = "storage.stats.interval"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        ALLOW_PRIVATE,
        "false",
        "Secure",
        "Allow template and ISO URLs (and redirects) to loopback, link-local and private addresses",
    ),
    Setting(
        ALLOWED_SITES,
        "",
        "Secure",
        "Comma-separated CIDRs of internal download sites allowed without secstorage.allow.private.download",
    ),
    Setting(MAX_SIZE_GB, "50", "Storage", "The maximum size for a downloaded template or ISO (in GB)"),
    Setting(SIM_DELAY, "0", "Advanced", "Seconds a simulated image store takes to mark a template or ISO downloaded"),
    Setting(RECONCILE_INTERVAL, "2", "Storage", "Seconds between rounds of the template download/replication worker"),
    Setting(
        LEASE_SECONDS,
        "60",
        "Storage",
        "Seconds a management server holds a template copy without renewing it before another takes it over",
    ),
    Setting(MAX_ATTEMPTS, "3", "Storage", "Times an interrupted template copy is resumed before it is marked failed"),
    Setting(EXTRACT_EXPIRATION, "14400", "Advanced", "The life of an extract URL after which it is deleted (seconds)"),
    Setting(EXTRACT_CLEANUP_INTERVAL, "7200", "Advanced", "Seconds between rounds that delete expired extract URLs"),
    Setting(
        STORAGE_STATS_INTERVAL,
        "60000",
        "Advanced",
        "The interval (in milliseconds) when the total and used bytes of storage pools and image stores are read",
    ),
    Setting(
        EXTRACT_URL_BASE,
        "",
        "Advanced",
        "Scheme, host and port of extract URLs (https://images.example.org); empty: the management server's "
        "address and API port",
    ),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}


def seed_template_settings(conn: Connection) -> int:
    """Insert the global rows of :data:`SETTINGS` that are missing; returns how many."""
    present = set(conn.execute(select(configuration.c.name).where(configuration.c.scope_id == 0)).scalars())
    added = 0
    for setting in SETTINGS:
        if setting.name not in present:
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


def value(conn: Connection, name: str) -> str:
    """The current value of one of :data:`SETTINGS` (its default when unset)."""
    found = config_value(conn, name)
    return found if found not in (None, "") else _BY_NAME[name].default


def number(conn: Connection, name: str) -> float:
    """A numeric setting; its default when the stored value is not a number."""
    try:
        return float(value(conn, name))
    except ValueError:
        return float(_BY_NAME[name].default)


def download_settings(conn: Connection) -> DownloadSettings:
    """The download engine's limits and safety switches from the configuration."""
    networks = []
    for item in (config_value(conn, ALLOWED_SITES) or "").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                continue  # a typo in one CIDR must not open or close everything else
    return DownloadSettings(
        allow_private=value(conn, ALLOW_PRIVATE).strip().lower() == "true",
        allowed_networks=tuple(networks),
        max_bytes=max(1, int(number(conn, MAX_SIZE_GB) * (1 << 30))),
    )
