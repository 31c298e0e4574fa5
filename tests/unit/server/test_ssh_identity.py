"""The management server's ssh identity for qemu+ssh, the libvirt URI it yields, and the rendered authorized keys."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from provisioner.ansible import build_inventory
from provisioner.compute.drivers.libvirt.core import SSH_COMMAND_ENV, LibvirtSettings, connection_uri
from provisioner.model import Cloud
from provisioner.server import ssh_identity
from provisioner.server.ssh_identity import ensure_identity


def test_identity_is_made_once_with_private_modes(tmp_path: Path) -> None:
    identity = ensure_identity(tmp_path / "ssh")
    assert stat.S_IMODE(identity.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(identity.private_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(identity.command.stat().st_mode) == 0o700
    assert identity.public_key.startswith("ssh-ed25519 ")
    private = identity.private_key.read_bytes()
    # ssh-keygen reads the key back and derives the same public key.
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(identity.private_key)], capture_output=True, text=True, check=True, timeout=30
    )
    assert derived.stdout.split()[:2] == identity.public_key.split()[:2]
    again = ensure_identity(tmp_path / "ssh")
    assert again.private_key.read_bytes() == private
    config = identity.config.read_text()
    assert f"IdentityFile {identity.private_key}" in config
    assert f"UserKnownHostsFile {identity.known_hosts}" in config
    assert "StrictHostKeyChecking accept-new" in config and "BatchMode yes" in config
    assert str(identity.config) in identity.command.read_text()
    assert b"PRIVATE KEY" not in identity.command.read_bytes() + identity.config.read_bytes()


def test_servers_starting_together_make_one_key_pair(tmp_path: Path) -> None:
    # Three servers sharing a data directory start at once (the CI failure of session 3: a shared
    # temporary name made one rename fail and could pair one run's private key with another's public).
    script = (
        "import sys; from pathlib import Path; from provisioner.server.ssh_identity import ensure_identity; "
        "print(ensure_identity(Path(sys.argv[1])).public_key)"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "ssh")], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    keys = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert [run.returncode for run in runs] == [0] * 6
    assert len(keys) == 1
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(tmp_path / "ssh" / "id_ed25519")],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert derived.stdout.split()[:2] == keys.pop().split()[:2]
    assert not list((tmp_path / "ssh").glob(".*.tmp"))


def test_qemu_ssh_uris_get_the_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    assert connection_uri("qemu+ssh://root@198.18.1.10/system", "/d/ssh") == (
        "qemu+ssh://root@198.18.1.10/system?command=/d/ssh"
    )
    assert connection_uri("qemu+ssh://root@h/system?no_tty=1", "/d d/ssh") == (
        "qemu+ssh://root@h/system?no_tty=1&command=/d%20d/ssh"
    )
    assert connection_uri("qemu+ssh://root@h/system?command=/x", "/d/ssh") == "qemu+ssh://root@h/system?command=/x"
    assert connection_uri("qemu:///system", "/d/ssh") == "qemu:///system"
    assert connection_uri("qemu+ssh://root@h/system", None) == "qemu+ssh://root@h/system"
    monkeypatch.setenv(SSH_COMMAND_ENV, "/srv/ssh")
    assert LibvirtSettings().ssh_command == "/srv/ssh"
    monkeypatch.delenv(SSH_COMMAND_ENV)
    assert LibvirtSettings().ssh_command is None


def test_use_identity_sets_the_driver_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SSH_COMMAND_ENV, raising=False)
    identity = ensure_identity(tmp_path / "ssh")
    ssh_identity.use_identity(identity)
    assert LibvirtSettings().ssh_command == str(identity.command)


def _cloud(**server: str) -> Cloud:
    return Cloud.model_validate(
        {
            "name": "c",
            "regions": [{"name": "r1", "management_servers": [{"name": "ms", "ip": "10.0.0.2", **server}]}],
            "zones": [
                {
                    "name": "z1",
                    "region": "r1",
                    "dns": ["10.0.0.1"],
                    "internal_dns": ["10.0.0.1"],
                    "pods": [
                        {
                            "name": "p1",
                            "gateway": "10.0.0.1",
                            "netmask": "255.255.255.0",
                            "start_ip": "10.0.0.100",
                            "end_ip": "10.0.0.110",
                            "clusters": [
                                {"name": "c1", "hypervisor": "kvm", "hosts": [{"name": "h1", "ip": "10.0.0.5"}]}
                            ],
                        }
                    ],
                }
            ],
        }
    )


def test_the_servers_key_is_authorized_on_the_regions_kvm_hosts(tmp_path: Path) -> None:
    public = ensure_identity(tmp_path / "ssh").public_key
    inventory = build_inventory(_cloud(ssh_public_key=public))
    region = next(g for g in inventory.groups.values() if g.vars.get("provisioner_region") == "r1")
    assert region.vars["kvm_host_management_ssh_public_keys"] == [public]
    assert "h1" in inventory.hosts_of(region.name)
    bare = build_inventory(_cloud())
    assert not any("kvm_host_management_ssh_public_keys" in g.vars for g in bare.groups.values())


def test_a_private_key_is_refused_as_the_public_key(tmp_path: Path) -> None:
    identity = ensure_identity(tmp_path / "ssh")
    with pytest.raises(ValidationError):
        _cloud(ssh_public_key=identity.private_key.read_text())


def test_bootstrap_names_kvm_hosts_the_server_cannot_reach(tmp_path: Path) -> None:
    from provisioner.cli.bootstrap import kvm_hosts_without_server_key

    assert kvm_hosts_without_server_key(_cloud(), {"h1"}) == ["h1"]
    assert kvm_hosts_without_server_key(_cloud(), {"other"}) == []
    public = ensure_identity(tmp_path / "ssh").public_key
    assert kvm_hosts_without_server_key(_cloud(ssh_public_key=public), {"h1"}) == []
