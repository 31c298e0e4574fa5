"""First start: ROOT domain, default roles, the admin account and user, default configuration."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import Connection, select, text

from provisioner.db.schema import account, domain, role
from provisioner.services.configuration import seed_configuration
from provisioner.services.identity.domains import create_root
from provisioner.services.identity.roles import ADMIN_ROLE_UUID, SEED_ROLES, add_seed_role
from provisioner.services.identity.users import insert_user

log = logging.getLogger(__name__)

ADMIN_CREDENTIALS_FILE = "admin-credentials"
#: Any constant: PostgreSQL nodes starting together take this advisory lock so one seeds.
_SEED_LOCK = 0x70726F76


def seed(conn: Connection, directory: Path) -> Path | None:
    """Create what an empty database needs; idempotent, safe when several servers start together.

    Args:
        conn: a connection inside a transaction (commit it to keep the result).
        directory: where the admin credentials file goes (mode 0600).

    Returns:
        The path of the new admin credentials file, or None when the database was seeded already.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK})
    seed_configuration(conn)
    if conn.execute(select(domain.c.id).where(domain.c.path == "/")).first():
        return None
    root_id = create_root(conn)
    for seed_role in SEED_ROLES:
        add_seed_role(conn, seed_role)
    admin_role = conn.execute(select(role.c.id).where(role.c.uuid == ADMIN_ROLE_UUID)).scalar_one()
    account_id = conn.execute(
        account.insert().values(name="admin", type=1, role_id=admin_role, domain_id=root_id)
    ).inserted_primary_key
    assert account_id is not None
    account_row = conn.execute(select(account).where(account.c.id == account_id[0])).one()
    password = secrets.token_urlsafe(18)
    insert_user(conn, account_row=account_row, username="admin", password=password, firstname="Admin", is_default=True)
    path = write_credentials(directory, "admin", password)
    log.info("created the admin user; its password is in %s", path)
    return path


def write_credentials(directory: Path, username: str, password: str) -> Path:
    """Write ``username``/``password``/``domain`` lines to a file only the owner can read."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / ADMIN_CREDENTIALS_FILE
    # Create with 0600 from the start: a chmod after writing would leave a readable window.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"username={username}\npassword={password}\ndomain=/\n")
    return path
