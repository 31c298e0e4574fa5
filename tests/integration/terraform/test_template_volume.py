"""``provisioner_template`` in-place updates and replacement, and a detached ``provisioner_volume``: import by id,
deletion outside Terraform, destroy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.terraform.conftest import Workspace
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def config(name: str = "tf-tpl", display: str = "first", password: str = "false", url: str = "a.qcow2") -> str:
    return f"""
resource "provisioner_template" "t" {{
  name             = "{name}"
  display_text     = "{display}"
  format           = "QCOW2"
  hypervisor       = "Simulator"
  os_type          = "Other Linux (64-bit)"
  url              = "http://198.18.0.80/{url}"
  password_enabled = {password}
  tags             = {{ os = "linux" }}
}}

resource "provisioner_volume" "spare" {{
  name          = "tf-spare"
  zone          = "lab-zone"
  disk_offering = "10GB"
}}
"""


def templates(cloud: LiveServer, template_id: str) -> list[dict[str, object]]:
    return [t for t in cloud.api.listTemplates(templatefilter="all").get("template", []) if t["id"] == template_id]


def test_template_updates_and_a_detached_volume(workspace: Workspace, cloud: LiveServer, tmp_path: Path) -> None:
    workspace.write(config())
    workspace.init()
    workspace.apply()
    template = workspace.resource("provisioner_template.t")
    spare = workspace.resource("provisioner_volume.spare")
    assert template["is_ready"] is True
    assert template["zone"] is None  # registered in every zone
    assert {t["zonename"] for t in templates(cloud, template["id"])} == {"lab-zone"}
    assert (spare["attach"], spare["virtual_machine_id"]) == (False, None)
    assert workspace.changes() == {}

    # In place: name, display text, password flag.
    workspace.write(config(name="tf-tpl-2", display="second", password="true"))
    assert workspace.changes() == {"provisioner_template.t": ["update"]}
    workspace.apply()
    row = templates(cloud, template["id"])[0]
    assert (row["name"], row["displaytext"], row["passwordenabled"]) == ("tf-tpl-2", "second", True)
    assert workspace.changes() == {}

    # Import the volume by id into a fresh state.
    other = Workspace(tmp_path / "import", workspace.env)
    other.directory.mkdir()
    other.write(
        'resource "provisioner_volume" "spare" {\n  name = "tf-spare"\n  zone = "lab-zone"\n'
        '  disk_offering = "10GB"\n}\n'
    )
    other.init()
    other.run("import", "provisioner_volume.spare", spare["id"])
    assert other.changes() == {}

    # A new URL replaces the template; a volume deleted outside Terraform is planned as a create.
    workspace.write(config(name="tf-tpl-2", display="second", password="true", url="b.qcow2"))
    cloud.api.deleteVolume(id=spare["id"])
    assert workspace.changes() == {
        "provisioner_template.t": ["delete", "create"],
        "provisioner_volume.spare": ["create"],
    }
    workspace.apply()
    assert workspace.resource("provisioner_template.t")["id"] != template["id"]
    assert not templates(cloud, template["id"])

    workspace.run("destroy", "-auto-approve", "-input=false")
    assert not cloud.api.listVolumes(name="tf-spare").get("volume")
