"""Fixtures of the VM operations tests: a clean simulated cloud per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioner.compute.drivers.simulator.cloud import CLOUD
from tests.support.libvirtd import libvirt_python_missing

# The libvirt variants need libvirt-python (the dev extra), as tests/unit/compute's do.
collect_ignore_glob = ["test_*_libvirt.py"] if libvirt_python_missing() else []


@pytest.fixture(autouse=True)
def clean_simulator() -> Iterator[None]:
    """Start and leave each test with no simulated host (before too: under xdist a test of another
    directory, which does not reset the simulator, may have run just before in the same process)."""
    CLOUD.reset()
    yield
    CLOUD.reset()
