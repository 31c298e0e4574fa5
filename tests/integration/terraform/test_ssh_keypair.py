"""``provisioner_ssh_keypair`` through terraform: create (generated and registered), no-op plan, import by name,
replacement, deletion outside Terraform, destroy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.terraform.conftest import Workspace
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMJv0Dv8jVqW3bWk9eXfnVJ7c3j1mS3o4Qy8kXx3Yc2E tf@example"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm1gqVQ8b2Bv0l1i9m3k8vTtXq2dQm8PpH3yVn4kZ0a tf@example"


def registered(public_key: str) -> str:
    return f"""
resource "provisioner_ssh_keypair" "registered" {{
  name       = "tf-registered"
  public_key = "{public_key}"
}}
"""


def config(public_key: str) -> str:
    return 'resource "provisioner_ssh_keypair" "generated" { name = "tf-generated" }\n' + registered(public_key)


def keypairs(cloud: LiveServer) -> dict[str, str]:
    return {k["name"]: k["fingerprint"] for k in cloud.api.listSSHKeyPairs().get("sshkeypair", [])}


def test_keypair_lifecycle(workspace: Workspace, cloud: LiveServer, tmp_path: Path) -> None:
    workspace.write(config(PUBLIC_KEY))
    workspace.init()
    workspace.apply()
    generated = workspace.resource("provisioner_ssh_keypair.generated")
    registered_state = workspace.resource("provisioner_ssh_keypair.registered")
    assert generated["id"] == "tf-generated"
    assert generated["private_key"].startswith("-----BEGIN")
    assert registered_state["private_key"] is None
    on_server = keypairs(cloud)
    assert on_server["tf-generated"] == generated["fingerprint"]
    assert on_server["tf-registered"] == registered_state["fingerprint"]
    assert workspace.changes() == {}
    # The private key is sensitive: never printed by plan or apply.
    assert generated["private_key"] not in "".join(workspace.runs)

    # Import by name into a fresh state.
    other = Workspace(tmp_path / "import", workspace.env)
    other.directory.mkdir()
    other.write(registered(PUBLIC_KEY))
    other.init()
    other.run("import", "provisioner_ssh_keypair.registered", "tf-registered")
    assert other.resource("provisioner_ssh_keypair.registered")["fingerprint"] == registered_state["fingerprint"]

    # A new public key replaces the key pair.
    workspace.write(config(OTHER_KEY))
    assert workspace.changes() == {"provisioner_ssh_keypair.registered": ["delete", "create"]}
    workspace.apply()
    assert keypairs(cloud)["tf-registered"] != registered_state["fingerprint"]

    # Deleted outside Terraform: the next plan creates it again.
    cloud.api.deleteSSHKeyPair(name="tf-generated")
    assert workspace.changes() == {"provisioner_ssh_keypair.generated": ["create"]}

    workspace.run("destroy", "-auto-approve", "-input=false")
    assert not {"tf-generated", "tf-registered"} & set(keypairs(cloud))
