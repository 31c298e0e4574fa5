"""ansible-lint (offline, production profile) finds nothing in the roles, playbooks and scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.roles.support import REPO, run, tail, tool_environment

pytestmark = pytest.mark.integration


def test_ansible_lint_is_clean(tmp_path: Path) -> None:
    env = tool_environment(tmp_path / "ansible-home")
    status, output = run(
        "ansible-lint", ["--offline", "roles", "playbooks", "molecule"], cwd=REPO, env=env, timeout=600
    )
    assert status == 0, f"ansible-lint found problems:\n{tail(output, 120)}"
    assert "Passed" in output, tail(output)
