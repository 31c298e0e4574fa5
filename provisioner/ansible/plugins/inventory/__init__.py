"""Ansible inventory plugins shipped with provisioner (point ``inventory_plugins`` at this directory)."""
