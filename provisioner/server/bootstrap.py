"""First start of a database: migrations, identity and infrastructure seed, and the admin's API keys.

Several servers may start at once on one PostgreSQL: migrations take their own advisory lock, and seeding
runs in one transaction under :data:`SEED_LOCK`, so exactly one server seeds and the others see its rows.
SQLite serialises writers itself (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from provisioner.db.engine import files_dir, run_in_transaction
from provisioner.db.migrate import upgrade
from provisioner.services.identity import IdentityService, UserKeys
from provisioner.services.identity.auth import system_caller
from provisioner.services.identity.seed import seed
from provisioner.services.identity.users import get_user_keys, register_user_keys
from provisioner.services.infrastructure.seed import seed_infrastructure
from provisioner.services.templates.builtin import seed_templates

#: Any constant: the PostgreSQL advisory lock servers starting together take around first-start seeding.
SEED_LOCK = 0x70726F78


def masked(url: str) -> str:
    """A database URL safe to print or log: the password (if any) replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"  # never echo what we cannot mask


def prepare_database(engine: Engine) -> Path | None:
    """Migrate to head and seed what is missing; idempotent and safe for concurrent starts.

    Returns:
        The admin credentials file when this call created the admin user, else None.
    """
    upgrade(engine)
    directory = files_dir(engine.url)

    def first_start(conn: Connection) -> Path | None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK})
        created = seed(conn, directory)
        seed_infrastructure(conn)
        seed_templates(conn)
        return created

    return run_in_transaction(engine, first_start)


def admin_keys(identity: IdentityService) -> UserKeys:
    """The ROOT ``admin`` user's API key pair, registered now when it has none.

    The one place the server hands out a secret without a request: ``provisioner admin keys``.
    """

    def work(conn: Connection) -> UserKeys:
        admin = system_caller(conn)
        keys = get_user_keys(conn, identity.box, admin, admin.user_id)
        if keys.api_key and keys.secret_key:
            return keys
        return register_user_keys(conn, identity.box, admin, admin.user_id)

    return identity.transaction(work)
