"""Fixtures of the volume service tests: a simulated zone on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.unit.services.volumes.world import World, build_world


@pytest.fixture
def world(db_engine: Engine) -> World:
    """Zone z1, a Simulator cluster with two hosts and two pools, offerings, and callers alice, bob, admin."""
    return build_world(db_engine)
