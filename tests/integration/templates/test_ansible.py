"""The ngine_io.cloudstack modules cs_template, cs_iso, cs_storage_pool and cs_image_store against the real
server: create, idempotent re-run, delete (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.infrastructure.support import build_zone, run_playbook
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parents[2] / "fixtures" / "playbooks" / "templates" / "templates.yml"


def test_template_iso_and_storage_modules(live_server: LiveServer, tmp_path: Path) -> None:
    api = live_server.api
    built = build_zone(api, api, name="ans-tz", net=3)
    pod = api.listPods(id=built.pod)["pod"][0]["name"]
    cluster = api.listClusters(id=built.cluster)["cluster"][0]["name"]
    run_playbook(live_server, PLAYBOOK, tmp_path, "-e", "zone=ans-tz", "-e", f"pod={pod}", "-e", f"cluster={cluster}")
    assert api.listTemplates(templatefilter="all", name="ans-template") == {}
    assert api.listIsos(isofilter="all", name="ans-iso") == {}
    assert api.listStoragePools(name="ans-tpl-primary") == {}
