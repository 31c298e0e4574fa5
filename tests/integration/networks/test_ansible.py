"""The ngine_io.cloudstack modules cs_sshkeypair, cs_network, cs_instance_nic, cs_affinitygroup and
cs_instancegroup against a live server with a simulated zone, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.integration.infrastructure.support import run_playbook
from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).parents[2] / "fixtures" / "playbooks" / "networks" / "networks.yml"


def _public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_network_modules(live_server: LiveServer, tmp_path: Path) -> None:
    cloud = simulated_cloud(live_server)
    api = live_server.api
    vm = api.deployVirtualMachine(
        zoneid=cloud.zone, serviceofferingid=cloud.offering, templateid=cloud.template, name="ans-vm", startvm=False
    )["virtualmachine"]
    variables = {"zone": "nz", "vm": "ans-vm", "public_key": _public_key(), "other_public_key": _public_key()}
    output = run_playbook(live_server, PLAYBOOK, tmp_path, "-e", json.dumps(variables))
    assert "changed=" in output
    # Everything the playbook made is gone again; the VM keeps only its default NIC.
    assert api.listSSHKeyPairs().get("count", 0) == 0
    assert [n["name"] for n in api.listNetworks()["network"]] == ["admin-network"]
    assert len(api.listNics(virtualmachineid=vm["id"])["nic"]) == 1
    assert api.listAffinityGroups().get("count", 0) == 0
    assert api.listInstanceGroups().get("count", 0) == 0
