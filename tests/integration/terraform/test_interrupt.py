"""Ctrl-C during ``terraform apply`` while deployVirtualMachine's job runs: the VM's id is in the state (tainted),
and the next apply converges to exactly one VM.

The provider is the real plugin from the filesystem mirror, and SIGINT goes to terraform's whole process
group, as a terminal's Ctrl-C does. The simulator hosts get a few seconds of latency per call (their
``driver_settings``, written to the server's database) so the deploy job is still running when the
interrupt comes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.terraform.conftest import Workspace, terraform_env
from tests.integration.terraform.test_provider import install
from tests.support.server import LiveServer, set_simulator_latency
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

CONFIG = """
resource "provisioner_instance" "interrupted" {
  name             = "tf-interrupted"
  zone             = "lab-zone"
  template         = "CentOS 5.6 (64-bit) no GUI (Simulator)"
  service_offering = "tiny"
  expunge          = true
}
"""
LATENCY = 4.0


@pytest.fixture
def slow_hosts(cloud: LiveServer) -> Iterator[None]:
    set_simulator_latency(cloud, LATENCY)
    try:
        yield
    finally:
        set_simulator_latency(cloud, 0)


def alive(cloud: LiveServer, name: str) -> list[str]:
    """Ids of the VMs of that name that are not destroyed."""
    rows = cloud.api.listVirtualMachines(name=name).get("virtualmachine", [])
    return [row["id"] for row in rows if row["state"] not in ("Destroyed", "Expunging")]


def test_sigint_during_deploy_keeps_the_id_and_the_rerun_converges(
    cloud: LiveServer, slow_hosts: None, tmp_path: Path
) -> None:
    exported = install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    workspace = Workspace(work, terraform_env(cloud, Path(exported["TF_CLI_CONFIG_FILE"]), **exported))
    workspace.write(CONFIG)
    workspace.init()

    apply = subprocess.Popen(
        [require_tool("terraform"), "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=work,
        env=workspace.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not alive(cloud, "tf-interrupted") and time.monotonic() < deadline and apply.poll() is None:
            time.sleep(0.2)
        assert apply.poll() is None, "apply ended before the VM existed: the interrupt came too late"
        os.killpg(apply.pid, signal.SIGINT)  # Ctrl-C: terraform and the provider both get it
        output, _ = apply.communicate(timeout=120)
    finally:
        if apply.poll() is None:
            os.killpg(apply.pid, signal.SIGKILL)
            apply.wait(10)
    assert apply.returncode != 0, output
    assert "Interrupt received" in output
    assert "interrupted" in output

    state = json.loads(workspace.run("show", "-json").stdout)
    resources = state["values"]["root_module"]["resources"]
    assert len(resources) == 1, output
    recorded = resources[0]
    assert recorded["tainted"] is True
    assert alive(cloud, "tf-interrupted") == [recorded["values"]["id"]]

    # The job goes on on the server; the re-run replaces the tainted VM: one VM in the end, in the state.
    set_simulator_latency(cloud, 0)
    workspace.apply()
    final = workspace.resource("provisioner_instance.interrupted")
    assert final["state"] == "Running"
    assert alive(cloud, "tf-interrupted") == [final["id"]]
    assert workspace.changes() == {}
    workspace.run("destroy", "-auto-approve", "-input=false")
    assert alive(cloud, "tf-interrupted") == []


def test_a_create_timeout_is_honoured_and_keeps_the_id(
    workspace: Workspace, cloud: LiveServer, slow_hosts: None
) -> None:
    workspace.write(
        CONFIG.replace("expunge          = true", 'expunge          = true\n  timeouts {\n    create = "1s"\n  }')
    )
    workspace.init()
    started = time.monotonic()
    done = workspace.apply_failing()
    assert time.monotonic() - started < LATENCY * 10
    assert "Error: create provisioner_instance timed out" in done.stderr
    assert "did not finish within 1 s" in " ".join(done.stderr.split())  # terraform wraps long lines
    recorded = json.loads(workspace.run("show", "-json").stdout)["values"]["root_module"]["resources"][0]
    assert recorded["tainted"] is True
    assert alive(cloud, "tf-interrupted") == [recorded["values"]["id"]]
    set_simulator_latency(cloud, 0)
    workspace.run("destroy", "-auto-approve", "-input=false")
    assert alive(cloud, "tf-interrupted") == []
