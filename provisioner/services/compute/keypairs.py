"""SSH key pairs (``createSSHKeyPair``, ``registerSSHKeyPair``, ``listSSHKeyPairs``, ``deleteSSHKeyPair``).

A key pair belongs to an account and is named uniquely within it. ``createSSHKeyPair`` generates a
2048-bit RSA key as CloudStack does: the private key is in the answer once and never stored or logged.
The fingerprint is CloudStack's (``SSHKeysHelper``): the MD5 of the key blob as colon-separated hex
pairs, which is also what OpenSSH prints with ``-E md5`` and what ``cs_sshkeypair`` compares.
Deployments read the public key with :func:`public_key_of` (by ``keypair_name`` and ``account_id``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, RowMapping, delete, insert, select
from sqlalchemy.exc import IntegrityError

from provisioner.db.schema import account, domain, new_uuid, ssh_keypair
from provisioner.exceptions import ParamError
from provisioner.services.common import contains, list_page
from provisioner.services.infrastructure.common import Row
from provisioner.services.principal import Caller
from provisioner.services.volumes.ownership import list_scope, resolve_owner

#: Key types OpenSSH and cloud-init accept in ``authorized_keys``.
KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-dss",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
RSA_BITS = 2048


def fingerprint(public_key: str) -> str:
    """CloudStack's fingerprint of a sanitised public key: MD5 of the key blob, ``aa:bb:…``."""
    blob = base64.b64decode(public_key.split()[1])
    return ":".join(f"{byte:02x}" for byte in hashlib.md5(blob, usedforsecurity=False).digest())


def sanitize_public_key(text: str) -> str:
    """The key as ``<type> <base64> [comment]`` on one line, checked to be a well-formed OpenSSH public key.

    Raises:
        ParamError: not an OpenSSH public key (431), with CloudStack's wording.
    """
    parts = text.strip().split()
    # authorized_keys lines may start with options (``no-pty,command="..." ssh-rsa AAAA…``).
    start = next((index for index, part in enumerate(parts) if part in KEY_TYPES), None)
    if start is None or start + 1 >= len(parts):
        raise ParamError("Public key is invalid: expected '<type> <base64 key> [comment]', e.g. 'ssh-ed25519 AAAA…'")
    key_type, encoded = parts[start], parts[start + 1]
    try:
        blob = base64.b64decode(encoded, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ParamError(f"Public key is invalid: the {key_type} key data is not valid base64 key material") from None
    if embedded != key_type:
        raise ParamError(f"Public key is invalid: the key data holds a {embedded!r} key, not {key_type}")
    return " ".join(parts[start:])


def generate_key_pair() -> tuple[str, str]:
    """A new RSA key as (OpenSSH public key, PEM private key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return public, private


def keypair_row(m: RowMapping) -> Row:
    """A key pair as ``SSHKeyPairResponse``."""
    return {
        "id": m["uuid"],
        "name": m["keypair_name"],
        "fingerprint": m["fingerprint"],
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "domainpath": "ROOT" + m["domain_path"].rstrip("/"),
    }


def _select() -> Any:
    return (
        select(
            ssh_keypair,
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(account, account.c.id == ssh_keypair.c.account_id)
        .join(domain, domain.c.id == ssh_keypair.c.domain_id)
    )


def _store(conn: Connection, owner: Any, name: str, public_key: str) -> Row:
    if not name.strip():
        raise ParamError("Unable to execute API command due to empty parameter name: give the key pair a name")
    taken = select(ssh_keypair.c.id).where(ssh_keypair.c.account_id == owner.account_id)
    if conn.execute(taken.where(ssh_keypair.c.keypair_name == name)).first() is not None:
        raise ParamError(f"A key pair with name '{name}' already exists for account {owner.account_name}.")
    uuid = new_uuid()
    savepoint = conn.begin_nested()
    try:
        conn.execute(
            insert(ssh_keypair).values(
                uuid=uuid,
                keypair_name=name,
                fingerprint=fingerprint(public_key),
                public_key=public_key,
                account_id=owner.account_id,
                domain_id=owner.domain_id,
            )
        )
    except IntegrityError:
        savepoint.rollback()  # a concurrent request created the same name first
        raise ParamError(f"A key pair with name '{name}' already exists for account {owner.account_name}.") from None
    savepoint.commit()
    return keypair_row(conn.execute(_select().where(ssh_keypair.c.uuid == uuid)).mappings().one())


def create_ssh_keypair(
    conn: Connection, caller: Caller, *, name: str, account_name: str | None = None, domainid: str | None = None
) -> Row:
    """Generate a key pair (``createSSHKeyPair``); only the answer carries ``privatekey``.

    Raises:
        ParamError: the name is taken in the account, or the account is unknown (431).
        PermissionDeniedError: the caller may not act for that account (531).
    """
    owner = resolve_owner(conn, caller, account_name, domainid)
    public, private = generate_key_pair()
    return {**_store(conn, owner, name, public), "privatekey": private}


def register_ssh_keypair(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    publickey: str,
    account_name: str | None = None,
    domainid: str | None = None,
) -> Row:
    """Register an existing public key (``registerSSHKeyPair``).

    Raises:
        ParamError: an invalid key, a taken name, or an unknown account (431).
        PermissionDeniedError: the caller may not act for that account (531).
    """
    owner = resolve_owner(conn, caller, account_name, domainid)
    return _store(conn, owner, name, sanitize_public_key(publickey))


def list_ssh_keypairs(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    name: str | None = None,
    fingerprint: str | None = None,
    keyword: str | None = None,
    account_name: str | None = None,
    domainid: str | None = None,
    listall: bool = False,
    isrecursive: bool = False,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """The key pairs the caller may see (``listSSHKeyPairs``): one page and the total."""
    conditions = [
        list_scope(
            conn,
            caller,
            ssh_keypair.c.account_id,
            ssh_keypair.c.domain_id,
            account_name=account_name,
            domain_uuid=domainid,
            listall=listall,
            isrecursive=isrecursive,
            by_id=id is not None,
        )
    ]
    if id:
        conditions.append(ssh_keypair.c.uuid == id.lower())
    if name:
        conditions.append(ssh_keypair.c.keypair_name == name)
    if fingerprint:
        conditions.append(ssh_keypair.c.fingerprint == fingerprint.lower())
    if keyword:
        conditions.append(contains(ssh_keypair.c.keypair_name, keyword))
    rows, total = list_page(conn, _select().where(*conditions), [ssh_keypair.c.id], page, pagesize)
    return [keypair_row(m) for m in rows], total


def delete_ssh_keypair(
    conn: Connection, caller: Caller, *, name: str, account_name: str | None = None, domainid: str | None = None
) -> None:
    """Delete a key pair by name (``deleteSSHKeyPair``); VMs deployed with it keep their key.

    Raises:
        ParamError: no such key pair in the account (431).
    """
    owner = resolve_owner(conn, caller, account_name, domainid)
    deleted = conn.execute(
        delete(ssh_keypair).where(ssh_keypair.c.account_id == owner.account_id, ssh_keypair.c.keypair_name == name)
    ).rowcount
    if not deleted:
        raise ParamError(
            f"A key pair with name '{name}' does not exist for account {owner.account_name} in specified domain id"
        )


def public_key_of(conn: Connection, account_id: int, name: str) -> str:
    """The public key of the account's key pair ``name`` (deployments and ``resetSSHKeyForVirtualMachine``).

    Raises:
        ParamError: no such key pair (431), in CloudStack's words.
    """
    key = conn.execute(
        select(ssh_keypair.c.public_key).where(
            ssh_keypair.c.account_id == account_id, ssh_keypair.c.keypair_name == name
        )
    ).scalar_one_or_none()
    if key is None:
        raise ParamError(f"A key pair with name '{name}' was not found.")
    return str(key)
