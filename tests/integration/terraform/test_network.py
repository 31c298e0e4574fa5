"""``provisioner_network`` through terraform: create, no-op plan, in-place update, replacement, import by id,
changes and deletion outside Terraform, diagnostics on the attribute, destroy."""

from __future__ import annotations

from pathlib import Path

import pytest
from cs import CloudStackApiException

from tests.integration.terraform.conftest import Workspace
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

OFFERING = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def config(name: str = "tf-net", cidr: str = "10.71.0.0/24", tags: str = 'role = "web"', extra: str = "") -> str:
    return f"""
resource "provisioner_network" "net" {{
  name             = "{name}"
  zone             = "lab-zone"
  network_offering = "{OFFERING}"
  cidr             = "{cidr}"
  tags             = {{ {tags} }}
  {extra}
}}
"""


def network(cloud: LiveServer, network_id: str) -> dict[str, object] | None:
    """The network as the server lists it, or None once it is gone (an unknown id is a 431)."""
    try:
        found = cloud.api.listNetworks(id=network_id, listall=True).get("network", [])
    except CloudStackApiException as exc:
        assert exc.error["errorcode"] == 431, exc.error
        return None
    return found[0] if found else None


def test_network_lifecycle(workspace: Workspace, cloud: LiveServer, tmp_path: Path) -> None:
    workspace.write(config())
    workspace.init()
    workspace.apply()
    state = workspace.resource("provisioner_network.net")
    created = network(cloud, state["id"])
    assert created is not None
    assert (created["name"], created["cidr"], created["gateway"]) == ("tf-net", "10.71.0.0/24", "10.71.0.1")
    assert state["zone"] == "lab-zone"  # the form written in the configuration is kept
    assert state["tags"] == {"role": "web"}
    assert workspace.changes() == {}

    # In place: name, display text, tags.
    workspace.write(config(name="tf-net-2", tags='role = "db", tier = "2"', extra='display_text = "database"'))
    assert workspace.changes() == {"provisioner_network.net": ["update"]}
    workspace.apply()
    updated = network(cloud, state["id"])
    assert updated is not None
    assert (updated["name"], updated["displaytext"]) == ("tf-net-2", "database")
    tags = {t["key"]: t["value"] for t in updated.get("tags", [])}  # type: ignore[union-attr]
    assert tags == {"role": "db", "tier": "2"}
    assert workspace.changes() == {}

    # Changed outside Terraform: the plan puts it back.
    cloud.api.updateNetwork(id=state["id"], name="renamed-outside")
    assert workspace.changes() == {"provisioner_network.net": ["update"]}
    workspace.apply()
    assert network(cloud, state["id"])["name"] == "tf-net-2"  # type: ignore[index]

    # Import by id into a fresh state: the same configuration plans nothing.
    other = Workspace(tmp_path / "import", workspace.env)
    other.directory.mkdir()
    other.write(config(name="tf-net-2", tags='role = "db", tier = "2"', extra='display_text = "database"'))
    other.init()
    other.run("import", "provisioner_network.net", state["id"])
    assert other.changes() == {}

    # A new CIDR replaces the network.
    workspace.write(config(name="tf-net-2", cidr="10.72.0.0/24", tags='role = "db", tier = "2"'))
    assert workspace.changes() == {"provisioner_network.net": ["delete", "create"]}
    workspace.apply()
    replaced = workspace.resource("provisioner_network.net")
    assert replaced["id"] != state["id"]
    assert network(cloud, state["id"]) is None

    # Deleted outside Terraform: the next plan creates it.
    cloud.api.deleteNetwork(id=replaced["id"])
    assert workspace.changes() == {"provisioner_network.net": ["create"]}

    workspace.run("destroy", "-auto-approve", "-input=false")
    assert network(cloud, replaced["id"]) is None


def test_an_unknown_offering_is_an_error_on_network_offering(workspace: Workspace) -> None:
    workspace.write(config().replace(OFFERING, "NoSuchOffering"))
    workspace.init()
    done = workspace.apply_failing()
    assert "Error: No network offering named 'NoSuchOffering'" in done.stderr
    assert 'network_offering = "NoSuchOffering"' in done.stderr
