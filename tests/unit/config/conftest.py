"""Fixtures of the config tests: a fresh valid document and a checker writing into tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.unit.config.helpers")

from tests.unit.config.helpers import Checker, minimal  # noqa: E402


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh valid document to break."""
    return minimal()


@pytest.fixture
def check(tmp_path: Path) -> Checker:
    """The checker, writing into this test's directory."""
    return Checker(tmp_path)
