"""Guest bridges of KVM zones on this machine: an isolated Traffic label bridge per test module, and clean-up
of the VLAN bridge the libvirt driver makes on it (``br<label>-<vlan>``: the label bridge has no port)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support.tools import require_tool


@contextlib.contextmanager
def isolated_bridge(name: str) -> Iterator[str]:
    """An isolated Linux bridge (no uplink: nothing the guest sends leaves it), deleted after."""
    ip = require_tool("ip")
    subprocess.run([ip, "link", "add", name, "type", "bridge"], check=True, timeout=30)
    try:
        subprocess.run([ip, "link", "set", name, "up"], check=True, timeout=30)
        yield name
    finally:
        subprocess.run([ip, "link", "del", name], check=False, timeout=30)


@contextlib.contextmanager
def guest_label(label: str, vlan: int) -> Iterator[str]:
    """The isolated label bridge ``label``; yields the name of the VLAN bridge the driver is to make on it,
    and deletes that bridge after (the driver's VLAN interface ``<label>.<vlan>`` goes with the label bridge)."""
    with isolated_bridge(label):
        try:
            yield f"br{label}-{vlan}"
        finally:
            subprocess.run([require_tool("ip"), "link", "del", f"br{label}-{vlan}"], check=False, timeout=30)


def guest_label_fixture(label: str, vlan: int) -> Callable[[], Iterator[str]]:
    """A fixture of :func:`guest_label` for a test module's Guest traffic label and VLAN."""

    @pytest.fixture
    def bridge() -> Iterator[str]:
        """The Guest label bridge, isolated; yields the VLAN bridge the driver is to make on it."""
        with guest_label(label, vlan) as name:
            yield name

    return bridge
