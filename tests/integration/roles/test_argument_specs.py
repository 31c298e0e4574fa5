"""The vars `provisioner render` writes for each host pass the argument specs of the roles applied to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.ansible.inventory import Inventory, build_inventory
from provisioner.config import load_topology
from tests.integration.roles.support import REPO, ROLES
from tests.unit.ansible.cases import CASES, load_case

pytestmark = pytest.mark.integration

#: The role group of the inventory each role is applied to (playbooks/*.yml).
ROLE_GROUPS = {
    "kvm_host": "kvm_hosts",
    "nfs_server": "nfs_servers",
    "iscsi_target": "iscsi_targets",
    "image_store": "image_stores",
    "template_seed": "image_stores",
    "management_server": "management_servers",
}
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def _spec(role: str) -> dict[str, Any]:
    data = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    options: dict[str, Any] = data["argument_specs"]["main"]["options"]
    return options


def _host_vars(inventory: Inventory, host: str) -> dict[str, Any]:
    """A host's vars as Ansible merges them: group vars from the outermost group inwards, then host vars."""
    parents: dict[str, list[str]] = {}
    for name, group in inventory.groups.items():
        for child in group.children:
            parents.setdefault(child, []).append(name)
    chain: list[str] = []
    todo = [name for name, group in inventory.groups.items() if host in group.hosts]
    while todo:
        group = todo.pop()
        if group not in chain:
            chain.append(group)
            todo.extend(parents.get(group, []))
    merged: dict[str, Any] = {}
    for group in reversed(chain):
        merged.update(inventory.groups[group].vars)
    merged.update(inventory.hostvars[host])
    return merged


def _check(inventory: Inventory) -> int:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    checked = 0
    for role, group in ROLE_GROUPS.items():
        spec = _spec(role)
        validator = ArgumentSpecValidator(spec)
        for host in inventory.hosts_of(group) if group in inventory.groups else []:
            variables = _host_vars(inventory, host)
            params = {key: value for key, value in variables.items() if key in spec}
            result = validator.validate(params)
            assert not result.error_messages, f"{role} on {host}: {result.error_messages}"
            checked += 1
    return checked


@pytest.mark.parametrize("case", CASES)
def test_rendered_vars_pass_the_argument_specs(case: str) -> None:
    assert _check(build_inventory(load_case(case))) > 0


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_vars_pass_the_argument_specs(example: Path) -> None:
    assert _check(build_inventory(load_topology(example))) > 0


def test_a_typo_in_generated_vars_is_caught() -> None:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    result = ArgumentSpecValidator(_spec("nfs_server")).validate(
        {"nfs_server_exports": [{"name": "x", "path": "/x", "clients": [], "kind": "primary", "zoen": "z"}]}
    )
    assert any("zoen" in message for message in result.error_messages)
