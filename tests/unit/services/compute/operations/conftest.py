"""Fixtures of the VM operations tests: a clean simulated cloud per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioner.compute.drivers.simulator.cloud import CLOUD


@pytest.fixture(autouse=True)
def clean_simulator() -> Iterator[None]:
    """Forget every simulated host after each test."""
    yield
    CLOUD.reset()
