"""ngine_io.cloudstack cs_instance and cs_instance_info against the real server on a simulated zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.infrastructure.support import run_playbook
from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parents[2] / "fixtures" / "playbooks" / "compute" / "instances.yml"


def test_instance_modules_create_reapply_change_delete(live_server: LiveServer, tmp_path: Path) -> None:
    simulated_cloud(live_server)  # zone "nz", offering "small", template "tiny"
    output = run_playbook(
        live_server, PLAYBOOK, tmp_path, "-e", "zone=nz", "-e", "template=tiny", "-e", "offering=small"
    )
    assert "changed=" in output
    assert live_server.api.listVirtualMachines(listall=True) == {}
