"""Ansible glue: the inventory of a cloud, its serialisations, ``--limit`` and project rendering."""

from provisioner.ansible.inventory import ROLE_GROUPS, Group, Inventory, build_inventory
from provisioner.ansible.limit import HostPatternError, apply_limit, select_hosts
from provisioner.ansible.render import PLUGIN_DIR, RenderError, render_project
from provisioner.ansible.serialize import FORMATS, Format, serialize

# What the CLI calls::
#
#     inventory = build_inventory(cloud)                 # Inventory(groups, hostvars)
#     inventory = apply_limit(inventory, "kvm_hosts")    # Ansible host-pattern rules
#     text = serialize(inventory, "yaml")               # or "json" (--list shape), "ini"
#     changed = render_project(cloud, out_dir, topology_path, plugin=False)

__all__ = [
    "FORMATS",
    "PLUGIN_DIR",
    "ROLE_GROUPS",
    "Format",
    "Group",
    "HostPatternError",
    "Inventory",
    "RenderError",
    "apply_limit",
    "build_inventory",
    "render_project",
    "select_hosts",
    "serialize",
]
