"""Terraform against a real ``provisioner serve``: one simulator cloud and one reattached provider per test run.

The cloud is the lab topology (examples/lab.yaml) applied by ``provisioner sync`` to a server on SQLite.
The provider runs once in ``--dev`` (reattach) mode, so each terraform command talks to the same process
instead of starting the provider 2-5 times; the mirror install has its own test. Every terraform run has
its own working directory, a CLI configuration of its own (never the machine's) and the admin keys in
the environment only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import REPO_ROOT, LiveServer, start_server
from tests.support.tools import require_tool

LAB = REPO_ROOT / "examples" / "lab.yaml"
#: Bounds: one terraform command, the provider's start.
COMMAND_TIMEOUT = 300.0
PROVIDER_START_TIMEOUT = 30.0
PROVIDER_BLOCK = """terraform {
  required_providers {
    provisioner = { source = "provisioner/provisioner", version = "0.1.0" }
  }
}

provider "provisioner" {}
"""


def api_env(server: LiveServer) -> dict[str, str]:
    """The provider's configuration through the environment (never in a file or on the command line)."""
    return {
        "PROVISIONER_API_URL": server.url,
        "PROVISIONER_API_KEY": server.apikey,
        "PROVISIONER_SECRET_KEY": server.secretkey,
    }


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the lab applied: zone lab-zone, offering tiny, disk offering 10GB, simulator hosts."""
    data = tmp_path_factory.mktemp("tfcloud")
    server = start_server(f"sqlite:///{data / 'provisioner.db'}", data / "server")
    try:
        done = subprocess.run(
            [require_tool("provisioner"), "sync", str(LAB), "--apply"],
            env=server.env() | api_env(server),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield server
    finally:
        server.stop()


@dataclass
class DevProvider:
    """The provider in reattach mode: its process and the ``TF_REATTACH_PROVIDERS`` value."""

    process: subprocess.Popen[str]
    reattach: str

    def stop(self) -> None:
        """SIGTERM exactly this PID; SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_dev_provider(env: dict[str, str] | None = None) -> DevProvider:
    """Start ``terraform-provider-provisioner --dev`` and read its reattach line (bounded)."""
    process = subprocess.Popen(
        [require_tool("terraform-provider-provisioner"), "--dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + PROVIDER_START_TIMEOUT
    assert process.stdout is not None
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("TF_REATTACH_PROVIDERS="):
            return DevProvider(process, line.split("=", 1)[1].strip())
    process.kill()
    process.wait(10)
    raise AssertionError(f"the provider printed no reattach line: {''.join(lines)}")


@pytest.fixture(scope="session")
def dev_provider(cloud: LiveServer) -> Iterator[DevProvider]:
    """One reattachable provider for the run; it reads the API settings from its own environment."""
    provider = start_dev_provider({**os.environ, **api_env(cloud)})
    try:
        yield provider
    finally:
        provider.stop()


@dataclass
class Workspace:
    """A terraform working directory with its environment."""

    directory: Path
    env: dict[str, str]
    runs: list[str] = field(default_factory=list)

    def write(self, body: str, *, provider_block: bool = True) -> None:
        """Write main.tf (with the required_providers and provider blocks first)."""
        (self.directory / "main.tf").write_text((PROVIDER_BLOCK if provider_block else "") + body)

    def run(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``terraform <args>`` (bounded); with ``check`` a failure shows its output."""
        done = subprocess.run(
            [require_tool("terraform"), *args, "-no-color"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.runs.append(f"$ terraform {' '.join(args)}\n{done.stdout}{done.stderr}")
        secret = self.env.get("PROVISIONER_SECRET_KEY")
        assert not secret or secret not in done.stdout + done.stderr
        if check:
            assert done.returncode == 0, (
                f"terraform {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def init(self) -> None:
        """``terraform init``."""
        self.run("init", "-input=false")

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``terraform apply -auto-approve``."""
        return self.run("apply", "-auto-approve", "-input=false", *args)

    def apply_failing(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``terraform apply`` that must fail (exit 1)."""
        done = self.run("apply", "-auto-approve", "-input=false", *args, check=False)
        assert done.returncode == 1, done.stdout[-3000:]
        return done

    def plan(self, *args: str) -> dict[str, Any]:
        """The plan as JSON (``terraform plan -out`` then ``show -json``)."""
        self.run("plan", "-input=false", "-out=tfplan", *args)
        return json.loads(self.run("show", "-json", "tfplan").stdout)  # type: ignore[no-any-return]

    def changes(self, *args: str) -> dict[str, list[str]]:
        """Resource address → actions, for every planned change that is not a no-op."""
        plan = self.plan(*args)
        return {
            change["address"]: change["change"]["actions"]
            for change in plan.get("resource_changes", [])
            if change["change"]["actions"] != ["no-op"] and change["mode"] == "managed"
        }

    def state(self) -> dict[str, Any]:
        """``terraform show -json`` of the state."""
        return json.loads(self.run("show", "-json").stdout)  # type: ignore[no-any-return]

    def resource(self, address: str) -> dict[str, Any]:
        """One resource's attribute values from the state."""
        resources = self.state()["values"]["root_module"].get("resources", [])
        found = [r for r in resources if r["address"] == address]
        assert found, f"{address} is not in the state: {[r['address'] for r in resources]}"
        return found[0]["values"]  # type: ignore[no-any-return]

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json`` values."""
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}


def terraform_env(server: LiveServer, cli_config: Path, **extra: str) -> dict[str, str]:
    """The environment of a terraform run: our CLI config, no checkpoint calls, the API keys."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TF_", "CLOUDSTACK_"))}
    env.update(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", **api_env(server))
    env.update(extra)
    return env


@pytest.fixture
def workspace(cloud: LiveServer, dev_provider: DevProvider, tmp_path: Path) -> Workspace:
    """A working directory whose terraform talks to the reattached provider and the module's cloud."""
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("# no provider installation: the provider is reattached\n")
    directory = tmp_path / "work"
    directory.mkdir()
    return Workspace(directory, terraform_env(cloud, cli_config, TF_REATTACH_PROVIDERS=dev_provider.reattach))
