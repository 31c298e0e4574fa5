"""Running the real ansible-inventory and ansible-playbook, and comparing what they read with what we built."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from provisioner.ansible.inventory import Inventory
from provisioner.ansible.render import PLUGIN_DIR
from tests.support.tools import require_tool


def ansible_environment(home: Path) -> dict[str, str]:
    """Environment for ansible commands: private home and temp dirs, our plugin enabled, no cowsay."""
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_INVENTORY_PLUGINS": str(PLUGIN_DIR),
        "ANSIBLE_INVENTORY_ENABLED": "provisioner,host_list,script,yaml,ini,auto",
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
    }


def run_ansible(tool: str, args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run an ansible command line (found via require_tool) and return its stdout; fail with its stderr."""
    executable = require_tool(tool)
    result = subprocess.run(
        [executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{tool} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def inventory_list(source: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """``ansible-inventory -i SOURCE --list --export``: groups keep their own vars."""
    return dict(json.loads(run_ansible("ansible-inventory", ["-i", str(source), "--list", "--export", *extra], env)))


def assert_same_inventory(ours: Inventory, listed: dict[str, Any]) -> None:
    """Ansible read exactly our hosts, groups, parent/child relations, group vars and host vars."""
    expected = json.loads(json.dumps({"groups": {n: g.vars for n, g in ours.groups.items()}, "hosts": ours.hostvars}))
    hostvars = listed["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(ours.hostvars)
    assert hostvars == expected["hosts"]
    extra = set(listed) - {"_meta"} - set(ours.groups)
    assert extra <= {"ungrouped"}, f"groups Ansible has and we do not: {sorted(extra)}"
    for name, group in ours.groups.items():
        entry = listed.get(name)
        if entry is None:  # Ansible leaves out groups with nothing in them
            assert not group.hosts and not group.children and not group.vars, name
            continue
        assert sorted(entry.get("hosts", [])) == sorted(group.hosts), name
        assert set(entry.get("children", [])) - {"ungrouped"} == set(group.children), name
        assert entry.get("vars", {}) == expected["groups"][name], name


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of ansible-playbook output: host -> {ok, changed, unreachable, failed, ...}."""
    lines = output[output.index("PLAY RECAP") :].splitlines()[1:]
    table: dict[str, dict[str, int]] = {}
    for line in lines:
        if ":" not in line:
            continue
        host, counts = line.split(":", 1)
        table[host.strip()] = {key: int(value) for key, value in (item.split("=") for item in counts.split())}
    return table


def assert_all_ok(output: str, hosts: list[str] | None = None) -> None:
    """Every host in the recap (and each of ``hosts``) ended with no failure and no unreachable."""
    table = recap(output)
    for host in hosts or []:
        assert host in table, f"{host} did not run"
    bad = {host: counts for host, counts in table.items() if counts["failed"] or counts["unreachable"]}
    assert not bad, f"hosts failed: {bad}"
