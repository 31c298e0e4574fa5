"""CDKTF and plain JSON against the real provider: the schema Terraform reads matches the constructs, the
CDKTF example app synthesizes (through Node) and applies, and the plain-JSON and HCL examples validate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from provisioner_terraform.schema_export import data_source_schemas, provider_schema, resource_schemas

from tests.integration.terraform.conftest import Workspace
from tests.support.server import REPO_ROOT, LiveServer
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

EXAMPLE = REPO_ROOT / "terraform" / "examples" / "cdktf" / "main.py"
BUILTIN = "CentOS 5.6 (64-bit) no GUI (Simulator)"


def flags(attribute: dict[str, object]) -> tuple[bool, bool, bool]:
    return (bool(attribute.get("required")), bool(attribute.get("optional")), bool(attribute.get("computed")))


def test_terraform_reads_the_schema_the_constructs_are_generated_from(workspace: Workspace) -> None:
    workspace.write("")
    workspace.init()
    served = json.loads(workspace.run("providers", "schema", "-json").stdout)
    schemas = served["provider_schemas"]["registry.terraform.io/provisioner/provisioner"]
    ours = {
        ("provider", "provisioner"): provider_schema(),
        **{("resource", s.type_name): s for s in resource_schemas()},
        **{("data", s.type_name): s for s in data_source_schemas()},
    }
    theirs = {("provider", "provisioner"): schemas["provider"]}
    theirs |= {("resource", name): s for name, s in schemas["resource_schemas"].items()}
    theirs |= {("data", name): s for name, s in schemas["data_source_schemas"].items()}
    assert set(theirs) == set(ours)
    for key, schema in ours.items():
        block = theirs[key]["block"]
        assert {name: flags(a) for name, a in block["attributes"].items()} == {
            a.name: (a.required, a.optional, a.computed) for a in schema.attributes
        }, key
        assert sorted(block.get("block_types", {})) == sorted(schema.blocks), key


def run_example(*args: str, cwd: Path) -> Path:
    """Run the example app (on the simulator's builtin template); return the stack directory it prints."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "EXAMPLE_TEMPLATE": BUILTIN}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return cwd / done.stdout.strip().splitlines()[-1]


def validate(workspace: Workspace, stack: Path) -> Workspace:
    """``terraform init`` and ``validate`` in the stack directory (reattached provider)."""
    stack_workspace = Workspace(stack, workspace.env)
    stack_workspace.init()
    done = stack_workspace.run("validate", "-json")
    assert json.loads(done.stdout)["valid"] is True, done.stdout
    return stack_workspace


def test_the_cdktf_example_synthesizes_and_applies(workspace: Workspace, cloud: LiveServer, tmp_path: Path) -> None:
    require_tool("node")
    stack = run_example("--outdir", "cdktf.out", cwd=tmp_path)
    document = json.loads((stack / "cdk.tf.json").read_text())
    web = document["resource"]["provisioner_instance"]["web"]
    assert web["zone"] == "${data.provisioner_zone.zone.id}"
    assert web["keypair"] == "${provisioner_ssh_keypair.key.name}"
    assert document["resource"]["provisioner_volume"]["data"]["virtual_machine_id"] == "${provisioner_instance.web.id}"
    assert document["terraform"]["required_providers"]["provisioner"]["source"] == "provisioner/provisioner"
    app = validate(workspace, stack)
    app.apply()
    outputs = app.outputs()
    assert outputs["state"] == "Running"
    vm = cloud.api.listVirtualMachines(name="cdktf-web")["virtualmachine"][0]
    assert (vm["keypair"], vm["nic"][0]["ipaddress"]) == ("cdktf-example", outputs["ip_address"])
    assert cloud.api.listVolumes(name="cdktf-data")["volume"][0]["virtualmachineid"] == vm["id"]
    assert app.changes() == {}
    app.run("destroy", "-auto-approve", "-input=false")
    assert not cloud.api.listSSHKeyPairs(name="cdktf-example").get("sshkeypair")


def test_the_plain_json_example_needs_no_node_and_validates(workspace: Workspace, tmp_path: Path) -> None:
    stack = run_example("--plain", "plain", cwd=tmp_path)
    document = json.loads((stack / "main.tf.json").read_text())
    assert document["resource"]["provisioner_instance"]["web"]["keypair"] == "${provisioner_ssh_keypair.key.name}"
    validate(workspace, stack)


def test_the_hcl_example_validates(workspace: Workspace, tmp_path: Path) -> None:
    stack = tmp_path / "hcl"
    stack.mkdir()
    (stack / "main.tf").write_text((REPO_ROOT / "terraform" / "examples" / "hcl" / "main.tf").read_text())
    validate(workspace, stack)


#: Runs the example with ``cdktf`` made unimportable, then prints which package the constructs used.
WITHOUT_CDKTF = """
import runpy, sys
sys.modules["cdktf"] = None  # as if CDKTF were not installed: the constructs must fall back to cdktn
sys.argv = [sys.argv[1], "--outdir", "cdktn.out"]
runpy.run_path(sys.argv[0], run_name="__main__")
import provisioner_terraform.cdk
print(provisioner_terraform.cdk.cdktf.__name__)
"""


def test_without_cdktf_the_constructs_use_cdktn_and_the_example_still_validates(
    workspace: Workspace, tmp_path: Path
) -> None:
    require_tool("node")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "EXAMPLE_TEMPLATE": BUILTIN}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CDKTF, str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    *_, stack_line, backend = done.stdout.strip().splitlines()
    assert backend == "cdktn"
    stack = tmp_path / stack_line
    document = json.loads((stack / "cdk.tf.json").read_text())
    assert document["resource"]["provisioner_volume"]["data"]["virtual_machine_id"] == "${provisioner_instance.web.id}"
    validate(workspace, stack)
