"""Ansible inventory plugin ``provisioner``: reads a topology file through :func:`build_inventory`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

from provisioner.ansible.inventory import Inventory, build_inventory
from provisioner.ansible.limit import apply_limit
from provisioner.config import load_topology
from provisioner.exceptions import ProvisionerError

DOCUMENTATION = r"""
name: provisioner
short_description: Groups, group vars and host vars straight from a provisioner topology file
description:
  - Loads and validates a provisioner topology file and builds the same inventory that
    C(provisioner inventory) prints and C(provisioner render) writes.
  - The inventory source must be a YAML file whose name ends in C(.provisioner.yml) or C(.provisioner.yaml).
options:
  plugin:
    description: Marks the file as a provisioner inventory source.
    required: true
    choices: ["provisioner"]
  topology:
    description: Path of the topology file; a relative path is relative to this inventory file.
    required: true
    type: str
  limit:
    description: Keep only the hosts this Ansible host pattern selects (same rules as C(--limit)).
    required: false
    type: str
"""

EXAMPLES = r"""
# cloud.provisioner.yml
plugin: provisioner
topology: ../examples/lab.yaml
limit: kvm_hosts:&zone_eu_west_1
"""

_SUFFIXES = (".provisioner.yml", ".provisioner.yaml")


def populate(target: Any, inventory: Inventory) -> None:
    """Copy an :class:`Inventory` into Ansible's ``InventoryData`` (groups, children, hosts, vars)."""
    for name in inventory.groups:
        if name != "all":
            target.add_group(name)
    for name, group in inventory.groups.items():
        for key, value in group.vars.items():
            target.set_variable(name, key, value)
        for child in group.children:
            target.add_child(name, child)
        for host in group.hosts:
            target.add_host(host, group=name)
    for host, variables in inventory.hostvars.items():
        for key, value in variables.items():
            target.set_variable(host, key, value)


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    """The ``provisioner`` inventory plugin."""

    NAME = "provisioner"
    # Templates only come from the topology (like a static inventory file) and from the
    # credential lookups build_inventory writes; Ansible may evaluate them at run time.
    trusted_by_default = True

    def verify_file(self, path: str) -> bool:
        """Accept only ``*.provisioner.yml`` / ``*.provisioner.yaml`` files."""
        return bool(super().verify_file(path)) and path.endswith(_SUFFIXES)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        """Load the topology named by the file and add its groups, hosts and vars."""
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        topology = Path(path).parent / str(self.get_option("topology"))
        try:
            built = build_inventory(load_topology(topology))
            limit = self.get_option("limit")
            if limit:
                built = apply_limit(built, str(limit))
        except ProvisionerError as exc:
            raise AnsibleParserError(f"{path}: {exc}") from exc
        populate(self.inventory, built)
