"""Guest VLAN bridges made on this machine by the libvirt driver's script, with real links (root).

Every link is test-owned: a label bridge with no uplink (or a veth pair that leads nowhere), and the VLAN
interfaces and bridges the script makes on them, deleted after.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt.vlans import VlanBridge, ensure, host_shell, remove_unused
from provisioner.exceptions import DriverError
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration
TAG = os.getpid() % 10000


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("ip"), *args], capture_output=True, text=True, timeout=30, check=check)


def _master(link: str) -> str:
    return Path(f"/sys/class/net/{link}/master").resolve().name


def _has_8021q() -> bool:
    """Whether this kernel makes VLAN interfaces (asked by making one on a throw-away bridge)."""
    probe = f"pvq{TAG}"
    _ip("link", "add", probe, "type", "bridge")
    try:
        return (
            _ip("link", "add", "link", probe, "name", f"{probe}.9", "type", "vlan", "id", "9", check=False).returncode
            == 0
        )
    finally:
        _ip("link", "del", probe, check=False)


def _up(link: str) -> bool:
    return "UP" in _ip("-o", "link", "show", "dev", link).stdout.split(">")[0]


@pytest.fixture
def label() -> Iterator[str]:
    """A label bridge (no uplink) and the VLAN bridges made on it or its port, all deleted after."""
    name = f"pvl{TAG}"
    _ip("link", "add", name, "type", "bridge")
    try:
        yield name
    finally:
        for link in (f"pvp{TAG}a", name):
            _ip("link", "del", link, check=False)  # takes the VLAN interfaces on it along
        for bridge in (f"brpvp{TAG}a-42", f"br{name}-42", f"br{name}-43"):
            _ip("link", "del", bridge, check=False)


def test_a_label_bridge_with_a_port_gets_br_port_vlan_on_port_dot_vlan(label: str) -> None:
    port = f"pvp{TAG}a"
    _ip("link", "add", port, "type", "veth", "peer", "name", f"pvp{TAG}b")
    _ip("link", "set", port, "master", label)
    bridge = f"brpvp{TAG}a-42"
    if not _has_8021q():  # this kernel cannot tag: a label bridge with a port to carry the VLAN is an error
        with pytest.raises(DriverError, match=f"cannot make the VLAN interface {port}.42 on {port}: .*8021q"):
            ensure([], "this machine", [("label", label, 42)])
        assert not Path(f"/sys/class/net/{bridge}").exists()
        return
    made = ensure(host_shell("qemu:///system", None) or [], "this machine", [("label", label, 42)])
    assert made == [VlanBridge(label, 42, port, bridge)]
    assert _master(f"{port}.42") == bridge
    assert _up(bridge) and _up(f"{port}.42")
    index = Path(f"/sys/class/net/{bridge}/ifindex").read_text()
    # The same bridge again, from the recorded device (a start): nothing is made anew.
    assert ensure([], "this machine", [("device", port, 42)]) == made
    assert Path(f"/sys/class/net/{bridge}/ifindex").read_text() == index


def test_a_label_bridge_without_ports_gets_br_label_vlan(label: str) -> None:
    made = ensure(host_shell("qemu:///system", None) or [], "this machine", [("label", label, 42)])
    assert made == [VlanBridge(label, 42, label, f"br{label}-42")]
    assert _up(f"br{label}-42")
    # With 802.1Q the VLAN interface on the label bridge is the uplink; without, there is none (nothing to carry).
    uplinks = sorted(p.name for p in Path(f"/sys/class/net/br{label}-42/brif").iterdir())
    assert uplinks == ([f"{label}.42"] if _has_8021q() else [])


def test_concurrent_deployments_agree_on_one_bridge(label: str) -> None:
    results: list[object] = []

    def deploy() -> None:
        try:
            results.append(ensure([], "this machine", [("label", label, 43), ("label", label, 42)]))
        except DriverError as error:
            results.append(error)

    threads = [threading.Thread(target=deploy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    expected = [VlanBridge(label, 43, label, f"br{label}-43"), VlanBridge(label, 42, label, f"br{label}-42")]
    assert results == [expected] * 4
    assert Path(f"/sys/class/net/br{label}-43/bridge").is_dir()


def test_a_bridge_is_removed_once_no_guest_is_on_it(label: str) -> None:
    bridge = f"br{label}-42"
    assert ensure([], "this machine", [("label", label, 42)]) == [VlanBridge(label, 42, label, bridge)]
    guest = f"pvp{TAG}a"  # stands in for a guest's tap
    _ip("link", "add", guest, "type", "veth", "peer", "name", f"pvp{TAG}b")
    _ip("link", "set", guest, "master", bridge)
    assert remove_unused([], "this machine", [(label, 42), (label, 43)]) == []
    assert Path(f"/sys/class/net/{bridge}").exists()
    _ip("link", "set", guest, "nomaster")
    assert remove_unused([], "this machine", [(label, 42)]) == [VlanBridge(label, 42, label, bridge)]
    assert not Path(f"/sys/class/net/{bridge}").exists() and not Path(f"/sys/class/net/{label}.42").exists()


def test_over_the_ssh_program_the_arguments_survive_the_remote_shell(label: str, tmp_path: Path) -> None:
    # A stand-in for the server's ssh wrapper: it checks the options it was given and runs the remote
    # command string with a shell here, as sshd would on the host.
    fake = tmp_path / "ssh"
    fake.write_text(
        '#!/bin/sh\n[ "$1 $2 $3 $4 $5 $6" = "-p 2222 -l root -- kvm1" ] || exit 99\nshift 6\nexec sh -c "$1"\n'
    )
    fake.chmod(0o700)
    shell = host_shell("qemu+ssh://root@kvm1:2222/system", str(fake))
    assert shell == [str(fake), "-p", "2222", "-l", "root", "--", "kvm1"]
    assert ensure(shell, "kvm1", [("label", label, 42)]) == [VlanBridge(label, 42, label, f"br{label}-42")]


def test_a_missing_label_names_the_host_the_label_and_what_to_do() -> None:
    with pytest.raises(DriverError) as caught:
        ensure([], "qemu:///system", [("label", f"nolabel{TAG}", 42)])
    message = str(caught.value)
    assert f"host qemu:///system: making the guest bridges of VLAN 42 of nolabel{TAG} failed" in message
    assert f"there is no bridge or device nolabel{TAG}" in message
    assert "kvm_host_bridges" in message
