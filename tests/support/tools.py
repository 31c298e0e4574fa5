"""Finding the external tools tests need: a skip on a laptop, a failure under ``make test``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def exclusive_lock(path: str | Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` for the block, waiting at most ``timeout`` seconds.

    Yields True while the lock is held, or False when the wait timed out (the lock is then not held).
    """
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
