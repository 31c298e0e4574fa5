"""Progress and outcome bookkeeping, fed by real ansible-runner runs over the local connection.

Each test writes a tiny project (inventory of local hosts, a playbook) and runs it through
:func:`provisioner.ansible.runner.run_project`; the tracker's counts must equal Ansible's own recap.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from provisioner.ansible.progress import LiveProgress, RunTracker
from provisioner.ansible.runner import (
    OUTCOME_FILE,
    REDACTED,
    RunOptions,
    RunSecrets,
    equivalent_command,
    run_project,
)
from tests.support.tools import require_tool

PLANTED = "planted-pr0gress-s3cret-91c"


def _project(tmp_path: Path, hosts: list[str], tasks: list[dict[str, Any]], plays: int = 1) -> Path:
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {name: dict(local) for name in hosts}}}
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    playbook = [
        {"name": f"Play {index + 1}", "hosts": "all", "gather_facts": False, "tasks": tasks} for index in range(plays)
    ]
    (project / "site.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory\n")
    return project


@pytest.fixture(autouse=True)
def _ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("ansible-playbook")
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-home" / "tmp"))


def test_counts_match_ansible_recap_and_outcome_file(tmp_path: Path) -> None:
    tasks = [
        {"name": "Ping", "ansible.builtin.ping": {}},
        {"name": "Change something", "ansible.builtin.command": "true", "changed_when": True},
        {"name": "Skip on h2", "ansible.builtin.debug": {"msg": "x"}, "when": "inventory_hostname != 'h2'"},
        {"name": "Fail but ignore", "ansible.builtin.fail": {"msg": "ignored"}, "ignore_errors": True},
    ]
    project = _project(tmp_path, ["h1", "h2"], tasks, plays=2)
    tracker = RunTracker(["h1", "h2"])
    running: dict[str, dict[str, int]] = {}

    def handler(event: dict[str, Any]) -> bool:
        if event.get("event") == "playbook_on_stats":  # the counts kept from results alone, before Ansible's
            running.update({name: counts.as_json() for name, counts in tracker.hosts.items()})
        tracker.handle(event)
        return True

    result = run_project(project, RunOptions(forks=2), tracker=tracker, event_handler=handler)
    assert result.ok, result.as_json()
    assert running == {name: counts.as_json() for name, counts in result.hosts.items()}
    assert result.plays == ["Play 1", "Play 2"]
    h1, h2 = result.hosts["h1"].as_json(), result.hosts["h2"].as_json()
    assert h1 == {"ok": 8, "changed": 2, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 2}
    assert h2 == {**h1, "ok": 6, "skipped": 2}
    recap = result.stdout_path.read_text()
    assert re.search(r"h1 +: ok=8 +changed=2 +unreachable=0 +failed=0 +skipped=0 +rescued=0 +ignored=2", recap)
    assert all(play.finished for play in tracker.plays)
    assert [play.tasks_started for play in tracker.plays] == [4, 4]
    outcome = json.loads(result.write_outcome().read_text())
    assert (result.artifact_dir / OUTCOME_FILE).is_file()
    assert outcome["hosts"]["h1"]["outcome"] == "changed"
    assert outcome["failed_hosts"] == []
    assert (result.artifact_dir / "job_events").is_dir()


def test_failures_name_host_task_and_message(tmp_path: Path) -> None:
    tasks = [
        {"name": "Ping", "ansible.builtin.ping": {}},
        {
            "name": "Break on h2",
            "ansible.builtin.fail": {"msg": "disk /dev/sdz is missing"},
            "when": "inventory_hostname == 'h2'",
        },
        {"name": "After", "ansible.builtin.ping": {}},
    ]
    result = run_project(_project(tmp_path, ["h1", "h2"], tasks), RunOptions())
    assert not result.ok
    assert result.status == "failed" and result.rc != 0
    assert result.failed_hosts == ["h2"]
    (failure,) = result.failures
    assert (failure.host, failure.play, failure.task) == ("h2", "Play 1", "Break on h2")
    assert failure.action == "ansible.builtin.fail"
    assert failure.message == "disk /dev/sdz is missing"
    assert result.host_outcome("h1") == "ok" and result.host_outcome("h2") == "failed"
    assert (result.hosts["h1"].ok, result.hosts["h1"].skipped) == (2, 1)


def test_unreachable_host_is_reported(tmp_path: Path) -> None:
    project = _project(tmp_path, ["h1"], [{"name": "Ping", "ansible.builtin.ping": {}}])
    inventory = yaml.safe_load((project / "inventory" / "hosts.yml").read_text())
    # Nothing listens on port 1 of the loopback: ssh is refused at once, and no packet leaves the machine.
    inventory["all"]["hosts"]["gone"] = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory\ntimeout = 2\nhost_key_checking = false\n")
    result = run_project(project, RunOptions())
    assert result.failed_hosts == ["gone"]
    assert result.host_outcome("gone") == "unreachable"
    (failure,) = result.failures
    assert failure.unreachable and failure.host == "gone" and failure.task == "Ping"


def test_limit_check_tags_reach_ansible_and_the_equivalent_command(tmp_path: Path) -> None:
    tasks = [
        {"name": "Tagged", "ansible.builtin.command": "true", "tags": ["one"]},
        {"name": "Other", "ansible.builtin.command": "true", "tags": ["two"]},
    ]
    project = _project(tmp_path, ["h1", "h2"], tasks)
    options = RunOptions(limit="h1", check=True, diff=True, tags=("one",), forks=3)
    result = run_project(project, options)
    assert sorted(result.hosts) == ["h1"]
    # command skips in check mode: one task ran, and it was skipped.
    assert result.hosts["h1"].skipped == 1 and result.hosts["h1"].ok == 0
    command = equivalent_command(project.resolve(), options)
    assert command.endswith("ansible-playbook -i inventory --limit h1 --forks 3 --tags one --check --diff site.yml"), (
        command
    )
    recorded = json.loads((result.artifact_dir / "command").read_text())["command"]
    for flag in ("--limit", "--check", "--diff", "--tags"):
        assert flag in recorded
    # Nothing of this run is kept for the next one (runner's env/ files would replay --check and --limit).
    assert not (project / "env").exists()
    again = run_project(project, RunOptions())
    assert sorted(again.hosts) == ["h1", "h2"] and again.hosts["h1"].changed == 2


def test_secret_environment_is_redacted_from_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_ROOT_PASSWORD", PLANTED)
    tasks = [
        {
            "name": "Use the secret",
            "ansible.builtin.set_fact": {"x": "{{ lookup('ansible.builtin.env', 'LAB_ROOT_PASSWORD') }}"},
            "no_log": True,
        },
        {"name": "Prove it arrived", "ansible.builtin.assert": {"that": [f"x | length == {len(PLANTED)}"]}},
    ]
    secrets = RunSecrets(secret_env=frozenset({"LAB_ROOT_PASSWORD"}))
    result = run_project(_project(tmp_path, ["h1"], tasks), RunOptions(), secrets)
    assert result.ok, result.as_json()
    result.write_outcome()
    for path in result.artifact_dir.rglob("*"):
        if path.is_file():
            assert PLANTED not in path.read_text(errors="replace"), path
    env = json.loads((result.artifact_dir / "command").read_text())["env"]
    assert env["LAB_ROOT_PASSWORD"] == REDACTED


def test_live_progress_without_terminal_prints_plays_and_totals(tmp_path: Path) -> None:
    project = _project(tmp_path, ["h1", "h2", "h3"], [{"name": "Ping", "ansible.builtin.ping": {}}], plays=2)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    tracker = RunTracker(["h1", "h2", "h3"])
    with LiveProgress(console, tracker, expected_hosts=3) as progress:
        result = run_project(project, RunOptions(), tracker=tracker, event_handler=progress.handle)
    assert result.ok
    text = buffer.getvalue()
    assert "PLAY [1] Play 1" in text and "PLAY [2] Play 2" in text
    assert "2 plays, 3 hosts: ok=6 changed=0 failed=0 unreachable=0" in text


def test_live_view_on_a_terminal_draws_bars_and_hosts(tmp_path: Path) -> None:
    project = _project(tmp_path, ["h1", "h2"], [{"name": "Ping", "ansible.builtin.ping": {}}])
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    tracker = RunTracker(["h1", "h2"])
    with LiveProgress(console, tracker, expected_hosts=2) as progress:
        run_project(project, RunOptions(), tracker=tracker, event_handler=progress.handle)
    text = buffer.getvalue()
    assert "Play 1" in text and "2/2" in text
    assert "h1" in text and "unreachable" in text


def test_accelerate_runs_under_mitogen(tmp_path: Path) -> None:
    pytest.importorskip("ansible_mitogen", reason="mitogen is not installed (pip install mitogen)")
    tasks = [{"name": "Ping", "ansible.builtin.ping": {}}, {"name": "Cmd", "ansible.builtin.command": "true"}]
    result = run_project(_project(tmp_path, ["h1", "h2"], tasks), RunOptions(accelerate=True))
    assert result.ok, result.stdout_path.read_text()
    assert "ANSIBLE_STRATEGY=mitogen_linear" in result.command
    env = json.loads((result.artifact_dir / "command").read_text())["env"]
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert result.hosts["h1"].changed == 1
