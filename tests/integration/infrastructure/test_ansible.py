"""The ngine_io.cloudstack infrastructure modules against the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.infrastructure.support import PLAYBOOKS, run_playbook
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_zone_modules_create_reapply_delete(live_server: LiveServer, tmp_path: Path) -> None:
    output = run_playbook(live_server, PLAYBOOKS / "zone.yml", tmp_path)
    assert "changed=" in output
    assert live_server.api.listZones() == {}
