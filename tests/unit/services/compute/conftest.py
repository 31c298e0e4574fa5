"""Fixtures for the compute service tests: a migrated database (SQLite and PostgreSQL) with a small cloud."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.unit.services.compute.cloud import Cloud


@pytest.fixture
def cloud(db_engine: Engine) -> Cloud:
    """Zone z1 with pod p1, accounts alice and bob; tests add clusters, hosts and pools."""
    return Cloud(db_engine)
