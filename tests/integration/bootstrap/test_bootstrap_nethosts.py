"""``provisioner bootstrap`` against two namespace hosts running sshd, as a user runs it.

The playbooks are a stand-in set (tests/integration/bootstrap/support.py) so the test is about the
command: exit codes, the JSON result, the outcome file, a second run with changed=0, the report of an
unreachable host, and that neither the SSH key nor the hosts' password lands in any file or output.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from provisioner.ansible.runner import OUTCOME_FILE
from tests.integration.bootstrap.support import (
    bootstrap_env,
    result_json,
    run_bootstrap,
    topology,
    write_playbooks,
    write_topology,
)
from tests.support.nethosts import NetHostFactory
from tests.support.tools import VENV_BIN

pytestmark = pytest.mark.integration

PLANTED = "planted-b00tstrap-s3cret-4e1"


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_bootstrap_two_hosts_json_rerun_and_no_secret(tmp_path: Path, net_hosts: NetHostFactory) -> None:
    fleet = net_hosts(2)
    playbooks = write_playbooks(tmp_path / "playbooks")
    path = write_topology(tmp_path / "cloud.yaml", topology(fleet))
    env = bootstrap_env(fleet, PLANTED, PROVISIONER_PLAYBOOKS_DIR=str(playbooks))
    key_body = fleet.key.read_text().splitlines()[1]
    names = sorted(host.name for host in fleet.hosts)

    first = run_bootstrap(path, env, "--output", "json", "--forks", "5")
    assert first.returncode == 0, first.stderr
    report = result_json(first)
    assert report["ok"] is True
    assert report["run"]["status"] == "successful"
    assert sorted(report["run"]["hosts"]) == names
    for name in names:
        assert report["run"]["hosts"][name]["outcome"] == "changed"
        assert report["run"]["hosts"][name]["changed"] == 1
    assert report["sync"] == {
        "applied": False,
        "reason": "no --api (or PROVISIONER_API_URL): the server was not updated",
    }
    for host in fleet.hosts:
        assert (host.upper / "etc/provisioner-bootstrapped").read_text() == "c1 z1\n"
    outcome = json.loads(Path(report["outcome_file"]).read_text())
    assert Path(report["outcome_file"]).name == OUTCOME_FILE
    assert outcome["hosts"] == report["run"]["hosts"]

    # The printed command reproduces the run with plain ansible-playbook (the key through an agent, as runner does).
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True, timeout=10)
    agent_env = dict(
        line.split(";")[0].split("=", 1) for line in agent.stdout.splitlines() if "=" in line.split(";")[0]
    )
    agent_env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    try:
        subprocess.run(
            ["ssh-add", str(fleet.key)], env={**env, **agent_env}, check=True, capture_output=True, timeout=10
        )
        replay = subprocess.run(
            ["sh", "-c", report["run"]["command"]],
            env={**env, **agent_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        subprocess.run(["ssh-agent", "-k"], env={**env, **agent_env}, capture_output=True, timeout=10, check=False)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "changed=0" in replay.stdout and "failed=0" in replay.stdout

    second = run_bootstrap(path, env)  # text mode this time: the summary table and where the artifacts are
    assert second.returncode == 0, second.stderr
    assert "Bootstrap summary" in second.stderr
    assert "same run with ansible-playbook:" in second.stderr
    project = tmp_path / ".provisioner" / "nslab"
    runs = sorted((project / "artifacts").iterdir())
    assert len(runs) == 2
    latest = json.loads((runs[-1] / OUTCOME_FILE).read_text())
    assert {name: latest["hosts"][name]["changed"] for name in names} == dict.fromkeys(names, 0)
    assert {name: latest["hosts"][name]["outcome"] for name in names} == dict.fromkeys(names, "ok")
    assert f"cd {shlex.quote(str(project))} && ansible-playbook -i inventory site.yml" in second.stderr

    # No secret in the rendered project, the artifacts (events, stdout, command, outcome) or the output.
    everything = _all_text(project) + first.stdout + first.stderr + second.stdout + second.stderr
    assert PLANTED not in everything
    assert key_body not in everything


def test_unreachable_host_fails_the_run_and_is_named(tmp_path: Path, net_hosts: NetHostFactory) -> None:
    fleet = net_hosts(2)
    playbooks = write_playbooks(tmp_path / "playbooks")
    ghost = fleet.gateway.rsplit(".", 1)[0] + ".99"  # on the bridge's /24, and nothing answers there
    path = write_topology(tmp_path / "cloud.yaml", topology(fleet, extra_hosts={"ghost": ghost}))
    env = bootstrap_env(fleet, PLANTED, PROVISIONER_PLAYBOOKS_DIR=str(playbooks))

    done = run_bootstrap(path, env, "--output", "json")
    assert done.returncode == 3, done.stderr
    report = result_json(done)
    assert report["ok"] is False
    assert report["run"]["failed_hosts"] == ["ghost"]
    assert report["run"]["hosts"]["ghost"]["outcome"] == "unreachable"
    (failure,) = report["run"]["hosts"]["ghost"]["failures"]
    assert failure["task"] == "Check that Ansible reaches the host" and failure["unreachable"] is True
    for host in fleet.hosts:  # the reachable hosts still converged
        assert report["run"]["hosts"][host.name]["outcome"] == "changed"
    assert "bootstrap failed on 1 host: ghost" in done.stderr
    assert "ghost: task 'Check that Ansible reaches the host'" in done.stderr
    assert report["sync"] is None  # nothing is registered after a failure

    # --limit leaves the unreachable host out: the run succeeds.
    limited = run_bootstrap(path, env, "--output", "json", "--limit", "kvm_hosts:!ghost")
    assert limited.returncode == 0, limited.stderr
    assert sorted(result_json(limited)["run"]["hosts"]) == sorted(h.name for h in fleet.hosts)


def test_check_mode_changes_nothing(tmp_path: Path, net_hosts: NetHostFactory) -> None:
    fleet = net_hosts(1)
    playbooks = write_playbooks(tmp_path / "playbooks")
    path = write_topology(tmp_path / "cloud.yaml", topology(fleet))
    env = bootstrap_env(fleet, PLANTED, PROVISIONER_PLAYBOOKS_DIR=str(playbooks))
    done = run_bootstrap(path, env, "--output", "json", "--check", "--diff")
    assert done.returncode == 0, done.stderr
    report = result_json(done)
    assert report["run"]["hosts"][fleet.hosts[0].name]["changed"] == 1  # it would change the marker file
    assert "--check --diff" in report["run"]["command"]
    assert report["sync"]["applied"] is False
    assert not (fleet.hosts[0].upper / "etc/provisioner-bootstrapped").exists()
