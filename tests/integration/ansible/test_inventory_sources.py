"""The real ansible-inventory reads our YAML, INI and JSON output, and the plugin, exactly as we built them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.ansible.inventory import Group, Inventory
from provisioner.ansible.limit import apply_limit, select_hosts
from provisioner.ansible.serialize import FORMATS, Format, serialize, to_json
from tests.integration.ansible.support import assert_same_inventory, inventory_list, run_ansible
from tests.support.tools import require_tool
from tests.unit.ansible.cases import CASES, case_inventory, model_path

pytestmark = pytest.mark.integration

_SUFFIX = {"yaml": ".yml", "ini": ".ini"}


@pytest.mark.parametrize("fmt", ["yaml", "ini"])
@pytest.mark.parametrize("case", CASES)
def test_static_file_parses_to_the_same_inventory(
    case: str, fmt: Format, tmp_path: Path, ansible_env: dict[str, str]
) -> None:
    inventory = case_inventory(case)
    source = tmp_path / f"hosts{_SUFFIX[fmt]}"
    source.write_text(serialize(inventory, fmt))
    assert_same_inventory(inventory, inventory_list(source, ansible_env))


def test_json_is_the_list_shape_a_script_inventory_serves(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    inventory = case_inventory("multi")
    data = tmp_path / "inventory.json"
    data.write_text(to_json(inventory))
    script = tmp_path / "inventory.sh"
    script.write_text(f"#!/bin/sh\ncat '{data}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert_same_inventory(inventory, inventory_list(script, ansible_env))
    # And it equals what ansible-inventory --list --export prints, up to Ansible's "ungrouped".
    ours = json.loads(serialize(inventory, "json"))
    static = tmp_path / "hosts.yml"
    static.write_text(serialize(inventory, "yaml"))
    listed = inventory_list(static, ansible_env)
    assert ours["_meta"]["hostvars"] == listed["_meta"]["hostvars"]


@pytest.mark.parametrize("case", CASES)
def test_plugin_reads_the_topology(case: str, tmp_path: Path, ansible_env: dict[str, str]) -> None:
    source = tmp_path / "cloud.provisioner.yml"
    source.write_text(f"plugin: provisioner\ntopology: {model_path(case)}\n")
    assert_same_inventory(case_inventory(case), inventory_list(source, ansible_env))


def test_plugin_graph_and_relative_topology(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    (tmp_path / "topo").mkdir()
    (tmp_path / "topo" / "cloud.yaml").write_text(model_path("multi").read_text())
    source = tmp_path / "inv" / "cloud.provisioner.yml"
    source.parent.mkdir()
    source.write_text("plugin: provisioner\ntopology: ../topo/cloud.yaml\n")
    graph = run_ansible("ansible-inventory", ["-i", str(source), "--graph"], ansible_env)
    assert "@region_eu:" in graph and "@cluster_kvm_a:" in graph and "|--kvm1" in graph
    kvm = run_ansible("ansible-inventory", ["-i", str(source), "--graph", "kvm_hosts"], ansible_env)
    assert kvm.split() == ["@kvm_hosts:", "|--kvm1", "|--kvm2", "|--kvm3"]


def test_plugin_limit_option(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    source = tmp_path / "cloud.provisioner.yml"
    source.write_text(f"plugin: provisioner\ntopology: {model_path('multi')}\nlimit: 'region_eu:&kvm_hosts'\n")
    limited = apply_limit(case_inventory("multi"), "region_eu:&kvm_hosts")
    assert_same_inventory(limited, inventory_list(source, ansible_env))


def test_plugin_reports_an_invalid_topology(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    topology = tmp_path / "bad.yaml"
    topology.write_text("version: 1\nname: bad\nregions: []\n")
    source = tmp_path / "cloud.provisioner.yml"
    source.write_text(f"plugin: provisioner\ntopology: {topology}\n")
    env = {**ansible_env, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}
    result = subprocess.run(
        [require_tool("ansible-inventory"), "-i", str(source), "--list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "regions" in result.stderr


PATTERNS = [
    "kvm_hosts",
    "kvm*",
    "*",
    "all",
    "region_eu:!kvm_hosts",
    "region_eu:&kvm_hosts",
    "kvm1,hv1,nas*",
    "kvm1:hv1",
    "~^(ms|nas)",
    "~kvm[12]",
    "!kvm1",
    "&nfs_servers",
    "zone_eu_*:&image_stores",
    "zone_*:!zone_eu_west_1:&image_stores",
    "kvm_hosts[1:]",
    "kvm_hosts[-1]",
    "kvm_hosts[0]:management_servers",
    "cluster_kvm_a[0]:management_servers",
    "ungrouped",
    "nothing_matches",
    "kvm?",
    "region_*:!region_us",
]

# Ansible's own pattern engine (InventoryManager.list_hosts, what --limit uses), one process for all.
_ORACLE = """
import json, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
manager = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
print(json.dumps({p: sorted(h.name for h in manager.get_hosts(p)) for p in json.loads(sys.argv[2])}))
"""


def test_limit_selects_what_ansible_selects(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    inventory = case_inventory("multi")
    source = tmp_path / "hosts.yml"
    source.write_text(serialize(inventory, "yaml"))
    require_tool("ansible-inventory")
    result = subprocess.run(
        [sys.executable, "-c", _ORACLE, str(source), json.dumps(PATTERNS)],
        env=ansible_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    expected = json.loads(result.stdout.splitlines()[-1])
    assert {p: sorted(select_hosts(inventory, p)) for p in PATTERNS} == expected


def test_limit_through_the_ansible_inventory_command(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    inventory = case_inventory("multi")
    source = tmp_path / "hosts.yml"
    source.write_text(serialize(inventory, "yaml"))
    listed = inventory_list(source, ansible_env, "--limit", "region_eu:!kvm_hosts")
    limited = apply_limit(inventory, "region_eu:!kvm_hosts")
    assert sorted(listed["_meta"]["hostvars"]) == sorted(limited.hostvars)


def test_every_format_is_covered() -> None:
    assert set(FORMATS) == {"yaml", "json", "ini"}


def test_repository_example_enables_the_plugin(ansible_env: dict[str, str]) -> None:
    example = Path(__file__).resolve().parents[3] / "inventory"
    env = {key: value for key, value in ansible_env.items() if not key.startswith("ANSIBLE_INVENTORY")}
    env["ANSIBLE_CONFIG"] = str(example / "ansible.cfg")
    graph = run_ansible("ansible-inventory", ["--graph"], env, cwd=example)
    assert "@management_servers:" in graph
    assert "@region_" in graph and "@cluster_" in graph


TRICKY = [
    "True",
    "22",
    "1e5",
    "...",
    "a b",
    "it's",
    'say "hi"',
    "{{ x }}",
    "",
    "-",
    "x#y",
    "None",
    "a=b",
    "back\\slash",
]


@pytest.mark.parametrize("fmt", ["yaml", "ini"])
def test_tricky_strings_survive(fmt: Format, tmp_path: Path, ansible_env: dict[str, str]) -> None:
    values: dict[str, object] = {f"v{i}": text for i, text in enumerate(TRICKY)}
    values["nested"] = {"list": TRICKY, "number": 3, "flag": False, "nothing": None}
    inventory = Inventory(
        groups={"all": Group("all", children=["g"], vars=dict(values)), "g": Group("g", hosts=["h1"], vars=values)},
        hostvars={"h1": dict(values)},
    )
    source = tmp_path / f"hosts{_SUFFIX[fmt]}"
    source.write_text(serialize(inventory, fmt))
    assert_same_inventory(inventory, inventory_list(source, ansible_env))
