"""API command modules. Each registers its commands in ``provisioner.api.registry.REGISTRY`` on import.

The list is explicit (no scanning): a new area is one new module and one line here.
"""

from __future__ import annotations

import importlib

from provisioner.api.registry import REGISTRY, Registry

#: The command modules, imported by :func:`load_commands`.
COMMAND_MODULES: tuple[str, ...] = (
    "provisioner.api.commands.discovery",
    "provisioner.api.commands.jobs",
    "provisioner.api.commands.session",
    "provisioner.api.commands.identity",
    "provisioner.api.commands.accounts",
    "provisioner.api.commands.users",
    "provisioner.api.commands.resource_limits",
    "provisioner.api.commands.roles",
    "provisioner.api.commands.configuration",
    "provisioner.api.commands.tags",
    "provisioner.api.commands.zones",
    "provisioner.api.commands.pods",
    "provisioner.api.commands.clusters",
    "provisioner.api.commands.hosts",
    "provisioner.api.commands.storage_pools",
    "provisioner.api.commands.image_stores",
    "provisioner.api.commands.templates",
    "provisioner.api.commands.isos",
    "provisioner.api.commands.physical_networks",
    "provisioner.api.commands.network_providers",
    "provisioner.api.commands.vlan_ranges",
    "provisioner.api.commands.service_offerings",
    "provisioner.api.commands.disk_offerings",
    "provisioner.api.commands.network_offerings",
    "provisioner.api.commands.guest_os",
    "provisioner.api.commands.hypervisors",
    "provisioner.api.commands.regions",
    "provisioner.api.commands.capacity",
    "provisioner.api.commands.virtual_machines",
    "provisioner.api.commands.vm_operations",
    "provisioner.api.commands.volumes",
    "provisioner.api.commands.snapshots",
    "provisioner.api.commands.vm_snapshots",
    "provisioner.api.commands.ssh_keypairs",
    "provisioner.api.commands.networks",
    "provisioner.api.commands.nics",
    "provisioner.api.commands.affinity_groups",
    "provisioner.api.commands.instance_groups",
    "provisioner.api.commands.placeholders",
)


def load_commands(modules: tuple[str, ...] = COMMAND_MODULES) -> Registry:
    """Import the command modules (once; Python caches them) and return the default registry."""
    for module in modules:
        importlib.import_module(module)
    return REGISTRY
