"""Finding the external tools tests need: a skip on a laptop, a failure under ``make test``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

#: ``make test`` and CI set this: a missing tool or service is then a failure, never a silent skip.
STRICT = os.environ.get("CI_STRICT") == "1" or os.environ.get("CI") == "true"

VENV_BIN = Path(sys.executable).parent


def missing(reason: str) -> None:
    """Skip (outside make test) or fail (under make test) because something is missing."""
    if STRICT:
        pytest.fail(f"{reason} (make test must install it: see the Makefile)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """Return the path of an executable, looking in the venv first; skip or fail when absent."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed")
        raise AssertionError("unreachable")
    return found
