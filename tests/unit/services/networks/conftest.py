"""Fixtures for the guest network tests: a migrated database (SQLite and PostgreSQL), a small cloud, the seed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from provisioner.services.infrastructure.seed import seed_infrastructure
from tests.unit.services.compute.cloud import Cloud


@pytest.fixture
def cloud(db_engine: Engine) -> Cloud:
    """Zone z1 (Advanced, guest CIDR unset) with pod p1, accounts alice and bob, the stock network offerings."""
    built = Cloud(db_engine)
    with db_engine.begin() as conn:
        seed_infrastructure(conn)
    return built
