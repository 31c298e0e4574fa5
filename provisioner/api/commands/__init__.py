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
    "provisioner.api.commands.roles",
    "provisioner.api.commands.configuration",
    "provisioner.api.commands.tags",
)


def load_commands(modules: tuple[str, ...] = COMMAND_MODULES) -> Registry:
    """Import the command modules (once; Python caches them) and return the default registry."""
    for module in modules:
        importlib.import_module(module)
    return REGISTRY
