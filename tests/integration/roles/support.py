"""Running molecule and ansible-lint over the repository's roles, the way a developer does."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.tools import VENV_BIN, require_tool

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / "roles"
#: podman settings for this machine (runc, cgroupfs, rlimits), shared by every scenario.
CONTAINERS_CONF = REPO / "molecule" / "containers.conf"
#: Wheels of provisioner and its dependencies (`make .stamps/wheelhouse`): the management_server scenario
#: installs from them, since its container reaches no package index.
WHEELHOUSE = Path(os.environ.get("PROVISIONER_WHEELHOUSE") or Path.home() / ".cache" / "provisioner" / "wheelhouse")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tool_environment(home: Path) -> dict[str, str]:
    """Environment of molecule and ansible-lint: the venv's tools first, a private Ansible home, no colour."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
        "PY_COLORS": "0",
        "CONTAINERS_CONF": str(CONTAINERS_CONF),
    }


def run(tool: str, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a tool found with require_tool; return its exit status and its output without colour codes."""
    executable = require_tool(tool)
    result = subprocess.run(
        [executable, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, _ANSI.sub("", result.stdout)


def tail(output: str, lines: int = 80) -> str:
    """The end of a long output, for an assertion message."""
    return "\n".join(output.splitlines()[-lines:])
