"""The management server's SSH identity: how it reaches KVM hosts' libvirt over ``qemu+ssh://``.

On first start the server makes an ed25519 key pair in ``<data dir>/ssh/`` (private key 0600, never
printed or logged), an ``ssh_config`` that names it and a private ``known_hosts`` (new hosts are
accepted on first contact, a changed host key is refused), and an ``ssh`` wrapper that runs OpenSSH
with that config. The libvirt driver hands the wrapper to libvirt (``command=`` in the URI) through
:data:`SSH_COMMAND_ENV`, so every connection of this server uses its own identity and known hosts,
never the login user's ``~/.ssh``.

The public key is what the topology's ``management_servers[].ssh_public_key`` holds (``provisioner
admin ssh-key`` prints it); ``provisioner render`` puts it in the KVM hosts'
``kvm_host_management_ssh_public_keys`` and the ``kvm_host`` role authorizes it.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the ssh program libvirt runs for ``qemu+ssh://`` URIs (read by the driver).
SSH_COMMAND_ENV = "PROVISIONER_SSH_COMMAND"
KEY_NAME = "id_ed25519"


@dataclass(frozen=True, slots=True)
class SshIdentity:
    """Where the pieces of the identity are."""

    directory: Path

    @property
    def private_key(self) -> Path:
        """The private key file (0600)."""
        return self.directory / KEY_NAME

    @property
    def public_key_file(self) -> Path:
        """The OpenSSH public key file."""
        return self.directory / f"{KEY_NAME}.pub"

    @property
    def public_key(self) -> str:
        """The OpenSSH public key line (``ssh-ed25519 AAAA... provisioner-management``)."""
        return self.public_key_file.read_text().strip()

    @property
    def config(self) -> Path:
        """The ssh_config the wrapper uses."""
        return self.directory / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        """The server's own known hosts."""
        return self.directory / "known_hosts"

    @property
    def command(self) -> Path:
        """The ssh wrapper libvirt runs."""
        return self.directory / "ssh"


def _write(path: Path, content: str | bytes, mode: int) -> None:
    # Created with its final mode, then renamed: nobody ever sees a half-written or too-open file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    os.replace(temporary, path)


def _generate(identity: SshIdentity) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    _write(identity.private_key, private, 0o600)
    _write(identity.public_key_file, public + b" provisioner-management\n", 0o644)


def ensure_identity(directory: Path) -> SshIdentity:
    """Create (once) the key pair, config, known hosts and wrapper in ``directory``; idempotent.

    Args:
        directory: usually ``<data dir>/ssh``; created 0700.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    with _exclusive(directory / ".lock"):
        return _ensure(SshIdentity(directory))


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    # Servers of one cloud may share a data directory and start together: one makes the key pair,
    # the others wait and find it (two writers would leave a private and a public key that differ).
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ensure(identity: SshIdentity) -> SshIdentity:
    if not identity.private_key.is_file() or not identity.public_key_file.is_file():
        _generate(identity)
    config = (
        f"IdentityFile {identity.private_key}\n"
        "IdentitiesOnly yes\n"
        f"UserKnownHostsFile {identity.known_hosts}\n"
        "GlobalKnownHostsFile /dev/null\n"
        "StrictHostKeyChecking accept-new\n"
        "BatchMode yes\n"
        "ConnectTimeout 15\n"
        "ServerAliveInterval 15\n"
        "ServerAliveCountMax 3\n"
        "LogLevel ERROR\n"
    )
    if not identity.config.is_file() or identity.config.read_text() != config:
        _write(identity.config, config, 0o600)
    if not identity.known_hosts.exists():
        _write(identity.known_hosts, "", 0o600)
    ssh = shlex.quote(shutil.which("ssh") or "ssh")
    wrapper = f'#!/bin/sh\nexec {ssh} -F {shlex.quote(str(identity.config))} "$@"\n'
    if not identity.command.is_file() or identity.command.read_text() != wrapper:
        _write(identity.command, wrapper, 0o700)
    return identity


def use_identity(identity: SshIdentity) -> None:
    """Make this process's libvirt connections (and its children's) use ``identity``."""
    os.environ[SSH_COMMAND_ENV] = str(identity.command)
