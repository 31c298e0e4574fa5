"""The provider as Terraform starts it: installed by ``provisioner terraform install`` into a filesystem mirror.

``terraform init`` then works offline, records the documented lock-file hash, and plan/apply start the
real plugin (go-plugin handshake, TLS) whose configuration comes from the environment, ours or the
CloudStack provider's variable names. Configuration mistakes are diagnostics on the attribute.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from provisioner_terraform.install import LOCK_HASH, PYTHON_VARIABLE
from provisioner_terraform.serve import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

from tests.integration.terraform.conftest import Workspace, terraform_env
from tests.support.server import LiveServer
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

ZONE = 'data "provisioner_zone" "lab" { name = "lab-zone" }\noutput "zone" { value = data.provisioner_zone.lab.id }\n'


def install(tmp_path: Path) -> dict[str, str]:
    """Run ``provisioner terraform install --dir`` and return the variables its export lines set."""
    done = subprocess.run(
        [require_tool("provisioner"), "terraform", "install", "--dir", str(tmp_path / "tf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith("export ") for line in lines), done.stdout
    assert LOCK_HASH in done.stderr
    # The lines are what a shell evaluates: check that a shell gets the same values.
    shell = subprocess.run(
        ["sh", "-c", f'{done.stdout}\nprintf "%s\\n%s\\n" "$TF_CLI_CONFIG_FILE" "${PYTHON_VARIABLE}"'],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    config_file, python = shell.stdout.splitlines()
    assert Path(config_file).is_file()
    assert python == sys.executable
    return {"TF_CLI_CONFIG_FILE": config_file, PYTHON_VARIABLE: python}


def test_install_init_offline_and_apply_with_the_real_plugin(cloud: LiveServer, tmp_path: Path) -> None:
    exported = install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = terraform_env(cloud, Path(exported["TF_CLI_CONFIG_FILE"]), **exported)
    workspace = Workspace(work, env)
    workspace.write(ZONE)
    workspace.init()
    lock = (work / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/provisioner/provisioner"' in lock
    assert f'"{LOCK_HASH}"' in lock
    started = time.monotonic()
    workspace.apply()
    assert time.monotonic() - started < 60
    assert workspace.outputs()["zone"] == cloud.api.listZones(name="lab-zone")["zone"][0]["id"]

    # A second install is idempotent: the same hash, and init -upgrade still verifies against the lock file.
    install(tmp_path)
    workspace.run("init", "-input=false", "-upgrade")
    assert (work / ".terraform.lock.hcl").read_text() == lock


def test_cloudstack_variable_names_configure_the_provider(cloud: LiveServer, tmp_path: Path) -> None:
    exported = install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = terraform_env(cloud, Path(exported["TF_CLI_CONFIG_FILE"]), **exported)
    for ours, theirs in (
        ("PROVISIONER_API_URL", "CLOUDSTACK_API_URL"),
        ("PROVISIONER_API_KEY", "CLOUDSTACK_API_KEY"),
        ("PROVISIONER_SECRET_KEY", "CLOUDSTACK_SECRET_KEY"),
    ):
        env[theirs] = env.pop(ours)
    workspace = Workspace(work, env)
    workspace.write(ZONE)
    workspace.init()
    workspace.apply()
    assert workspace.outputs()["zone"]


def test_configuration_mistakes_name_the_attribute(cloud: LiveServer, tmp_path: Path) -> None:
    exported = install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = terraform_env(cloud, Path(exported["TF_CLI_CONFIG_FILE"]), **exported)
    del env["PROVISIONER_API_KEY"]
    workspace = Workspace(work, env)
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    provisioner = { source = "provisioner/provisioner" }\n  }\n}\n'
        'provider "provisioner" {\n  api_url = "ftp://nowhere"\n  timeout = 30\n}\n' + ZONE
    )
    workspace.init()
    done = workspace.run("plan", "-input=false", check=False)
    assert done.returncode == 1
    assert "Error: Missing api_key" in done.stderr
    assert "PROVISIONER_API_KEY or CLOUDSTACK_API_KEY" in done.stderr
    assert "Error: Invalid api_url" in done.stderr
    assert re.search(r'on main.tf line 7, in provider "provisioner":\s+7:\s+api_url = "ftp://nowhere"', done.stderr)

    # A wrong secret: the server's 401 becomes a diagnostic, and the secret never shows.
    env["PROVISIONER_API_KEY"] = cloud.apikey
    env["PROVISIONER_SECRET_KEY"] = "not-the-secret"
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    provisioner = { source = "provisioner/provisioner" }\n  }\n}\n' + ZONE
    )
    done = workspace.run("plan", "-input=false", check=False)
    assert done.returncode == 1
    assert "(error 401)" in done.stderr
    assert "not-the-secret" not in done.stdout + done.stderr


def test_the_executable_refuses_to_run_outside_terraform() -> None:
    done = subprocess.run(
        [require_tool("terraform-provider-provisioner")], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    assert "This binary is a plugin" in done.stderr


def test_the_plugin_handshakes_within_half_a_second_of_cpu() -> None:
    # CPU time, not wall time: the floor must hold on a loaded machine too. Best of three (a cold .pyc cache).
    env = {**os.environ, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE}
    costs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        plugin = subprocess.Popen(
            [sys.executable, "-m", "provisioner_terraform"], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert plugin.stdout is not None
            assert plugin.stdout.readline().startswith("1|6|unix|")
        finally:
            plugin.kill()
            plugin.wait(10)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    assert min(costs) <= 0.5, costs
