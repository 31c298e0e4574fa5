"""``make demo`` runs the main job end to end; a second run finds nothing to change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _demo(work: Path) -> str:
    env = {**os.environ, "PROVISIONER_DEMO_DIR": str(work), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "provisioner.demo"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_builds_a_cloud_and_is_idempotent(tmp_path: Path) -> None:
    first = _demo(tmp_path)
    assert "Plan: 15 to create" in first  # 14 infrastructure objects and the cirros template
    assert first.count("Up/Enabled") == 2, first
    assert "Enabled" in first and "lab-zone" in first
    assert (tmp_path / "ansible" / "site.yml").is_file()
    assert (tmp_path / "api-keys.json").stat().st_mode & 0o777 == 0o600
    secret = json.loads((tmp_path / "api-keys.json").read_text())["secretkey"]
    assert secret not in first, "the demo must never print the secret key"
    second = _demo(tmp_path)
    assert "No changes" in second and "0 to create" in second
