"""Resolving credential references (CHAP secrets) and handing them to tools without a command line."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from provisioner.exceptions import CredentialError
from provisioner.model.credentials import CredentialRef


def resolve_secret(ref: CredentialRef) -> str:
    """Read the secret a reference names (an environment variable or a file).

    Raises:
        CredentialError: the variable or file is missing, or the reference is to an Ansible Vault
            (those are resolved by Ansible on the hosts, not by the management server).
    """
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise CredentialError(f"the environment variable {ref.env} (a CHAP secret) is not set")
        return value
    if ref.file is not None:
        try:
            return Path(ref.file).read_text().rstrip("\n")
        except OSError as error:
            raise CredentialError(f"cannot read the secret file {ref.file}: {error.strerror}") from None
    raise CredentialError(f"vault reference {ref.reference!r} can only be resolved by Ansible, not by a driver")


@contextlib.contextmanager
def secret_file(value: str) -> Iterator[str]:
    """A private (0600) temporary file holding ``value``, removed afterwards: for ``--object secret,file=``."""
    fd, path = tempfile.mkstemp(prefix="provisioner-secret-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
