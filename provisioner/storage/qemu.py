"""Running ``qemu-img``: one place for timeouts, error messages and secrets passed as files."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from provisioner.exceptions import DriverError


def run(tool: str, args: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None, what: str = "") -> str:
    """Run a storage client tool and return its standard output.

    Secrets never go in ``args`` (they show in ``ps`` and in this error text); pass them through a
    ``--object secret,file=…`` argument or ``env``.

    Raises:
        DriverError: the tool is missing, timed out or failed; the message has its stderr.
    """
    path = shutil.which(tool)
    if path is None:
        raise DriverError(f"{tool} is not installed (needed to {what or 'reach the storage'})")
    try:
        done = subprocess.run(
            [path, *args], capture_output=True, text=True, timeout=timeout, env=dict(env) if env else None, check=False
        )
    except subprocess.TimeoutExpired:
        raise DriverError(f"{tool} did not finish within {timeout:g} s ({what or ' '.join(args[:2])})") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DriverError(f"{tool} {args[0] if args else ''} failed ({what}): {' / '.join(detail[-3:]) or 'no output'}")
    return done.stdout


def info(
    target: str, *, timeout: float, extra: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``qemu-img info --output=json`` of a path or URL, parsed; the format is probed, never assumed."""
    output = run(
        "qemu-img", ["info", "--output=json", *extra, target], timeout=timeout, env=env, what=f"inspect {target}"
    )
    parsed: dict[str, Any] = json.loads(output)
    return parsed
