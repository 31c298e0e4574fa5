"""Fixtures of the bootstrap end-to-end tests: namespace hosts (tests/support/nethosts.py)."""

from tests.support.nethosts import net_hosts

__all__ = ["net_hosts"]
