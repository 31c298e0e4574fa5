"""The ngine_io.cloudstack ``cs_volume`` and ``cs_vmsnapshot`` modules against the real server, on SQLite and
PostgreSQL: create, attach, resize, detach and delete volumes, and a VM snapshot's lifecycle, each re-run idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.infrastructure.support import run_playbook
from tests.integration.volumes.support import build_volume_cloud, pool_allocated
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parents[2] / "fixtures" / "playbooks" / "volumes" / "volumes.yml"


def test_cs_volume_and_cs_vmsnapshot_playbook(live_server: LiveServer, tmp_path: Path) -> None:
    cloud = build_volume_cloud(live_server)
    api = live_server.api
    before = pool_allocated(api, cloud.zone.pool)
    output = run_playbook(live_server, PLAYBOOK, tmp_path)
    assert "changed=" in output
    assert api.listVolumes(type="DATADISK", listall=True) == {}
    assert api.listVMSnapshot(listall=True) == {}
    assert pool_allocated(api, cloud.zone.pool) == before  # every reservation the playbook made was released
