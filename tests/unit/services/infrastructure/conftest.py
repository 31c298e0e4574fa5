"""Fixtures for the infrastructure tests: a migrated, seeded database (SQLite and PostgreSQL) and callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from sqlalchemy import Connection, Engine

from provisioner.services.identity import IdentityService
from provisioner.services.infrastructure.seed import seed_infrastructure
from provisioner.services.principal import Caller
from tests.unit.services.helpers import make_account

T = TypeVar("T")
Run = Callable[[Callable[[Connection], T]], T]


@pytest.fixture
def run(db_engine: Engine, identity: IdentityService) -> Run[object]:
    """Run ``work(conn)`` in its own committed transaction, on a database seeded with infrastructure data."""
    with db_engine.begin() as conn:
        seed_infrastructure(conn)

    def runner(work: Callable[[Connection], T]) -> T:
        with db_engine.begin() as conn:
            return work(conn)

    return runner  # type: ignore[return-value]


@pytest.fixture
def user(identity: IdentityService, admin: Caller) -> Caller:
    """An ordinary user account's caller."""
    return make_account(identity, admin, "alice")[1]
