"""First start: ROOT, default roles, the admin with a random password in a 0600 file, configuration."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from sqlalchemy import Engine, func, select

from provisioner.db.schema import account, configuration, domain, role, role_permission, user
from provisioner.services.configuration import DEFAULTS, config_value
from provisioner.services.identity import IdentityService
from provisioner.services.identity.roles import ADMIN_ROLE_UUID, SEED_ROLES
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.helpers import admin_password, make_identity


def test_seed_creates_root_admin_and_roles(identity: IdentityService, admin: Caller) -> None:
    assert admin.is_root_admin and admin.domain_path == "/" and admin.role_id == ADMIN_ROLE_UUID
    with identity.engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(domain.c.name, domain.c.path))] == [("ROOT", "/")]
        assert [tuple(r) for r in conn.execute(select(account.c.name, account.c.type))] == [("admin", 1)]
        roles = dict(conn.execute(select(role.c.uuid, role.c.role_type)).tuples().all())
        assert roles == {seed.uuid: seed.role_type.value for seed in SEED_ROLES}
        assert conn.execute(select(func.count()).select_from(role_permission)).scalar_one() == 10


def test_admin_password_is_random_and_only_in_a_private_file(identity: IdentityService) -> None:
    path = identity.directory / "admin-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = admin_password(identity.directory)
    assert len(password) >= 20
    with identity.engine.connect() as conn:
        stored = conn.execute(select(user.c.password).where(user.c.username == "admin")).scalar_one()
    assert password not in stored


def test_seed_is_idempotent(identity: IdentityService) -> None:
    assert identity.seed() is None
    with identity.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(user)).scalar_one() == 1


def test_first_seed_logs_the_path_not_the_password(db_engine: Engine, tmp_path: Path) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logging.getLogger("provisioner").addHandler(handler)
    logging.getLogger("provisioner").setLevel(logging.INFO)
    try:
        service = make_identity(db_engine, tmp_path / "seed")
    finally:
        logging.getLogger("provisioner").removeHandler(handler)
    messages = [record.getMessage() for record in records]
    assert any(str(service.directory / "admin-credentials") in m for m in messages)
    assert not any(admin_password(service.directory) in m for m in messages)


def test_default_configuration(identity: IdentityService) -> None:
    with identity.engine.connect() as conn:
        names = set(conn.execute(select(configuration.c.name)).scalars())
        assert {setting.name for setting in DEFAULTS} <= names
        assert config_value(conn, "default.page.size") == "500"
        assert config_value(conn, "job.expire.minutes") == "1440"
        assert config_value(conn, "integration.api.port") == "0"
        assert config_value(conn, "cpu.overprovisioning.factor", "cluster", 42) == "1"  # global fallback
        assert config_value(conn, "no.such.key") is None


def test_system_caller_is_the_root_admin(identity: IdentityService, admin: Caller) -> None:
    assert identity.system_caller() == admin
    assert admin.role_type is RoleType.ADMIN
