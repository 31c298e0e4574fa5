"""Fixtures of the bootstrap end-to-end tests: namespace hosts (tests/support/nethosts.py), the tiny guest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.guest import build_guest, build_template
from tests.support.nethosts import net_hosts

__all__ = ["guest_template", "net_hosts"]


@pytest.fixture(scope="session")
def guest_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootable qcow2 template disk of the tiny guest, built once per run."""
    image = build_guest(tmp_path_factory.mktemp("guest"))
    return build_template(image, tmp_path_factory.mktemp("template") / "tiny-template.qcow2")
