"""Ansible plugins shipped with provisioner."""
