"""Fixtures for the jobs tests: a migrated, seeded database (SQLite and PostgreSQL) and its admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from provisioner.services.identity import IdentityService
from provisioner.services.principal import Caller
from tests.unit.services.helpers import admin_caller, make_identity


@pytest.fixture
def identity(db_engine: Engine, tmp_path: Path) -> IdentityService:
    """A seeded identity service."""
    return make_identity(db_engine, tmp_path / "files")


@pytest.fixture
def admin(identity: IdentityService) -> Caller:
    """The seeded root admin."""
    return admin_caller(identity, identity.directory)
