"""Fixtures of the ansible integration tests (helpers live in support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ansible.support import ansible_environment


@pytest.fixture
def ansible_env(tmp_path: Path) -> dict[str, str]:
    """:func:`ansible_environment` in the test's own temporary directory."""
    return ansible_environment(tmp_path / "ansible-home")
