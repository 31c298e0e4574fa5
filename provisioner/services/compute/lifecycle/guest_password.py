"""Guest passwords of password-enabled templates: generated, kept only as a SHA-512 crypt hash.

CloudStack hands a new password to the guest through the virtual router's password server. Here it
reaches the guest in the cloud-init seed of its next start as root's crypt(3) hash (``$6$``, what
``chpasswd -e`` and /etc/shadow take): the password itself is shown once, in the job result, and is
never stored, logged or written to a file. The hash is kept in the VM's details under
:data:`HASH_DETAIL`, which the API neither shows nor lets a caller set.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Any

from sqlalchemy import Connection, select, update

from provisioner.db.schema import utcnow, vm_instance, vm_template

#: CloudStack's generated VM passwords: ``vm.password.length`` (default 6) characters, no look-alikes.
PASSWORD_LENGTH = 6
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
#: The VM detail holding the hash of the password set last (hidden from the API).
HASH_DETAIL = "provisioner.passwordhash"
_CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ROUNDS = 5000  # crypt's default: the hash carries no ``rounds=`` field


def sha512_crypt(password: str, salt: str) -> str:
    """The glibc SHA-512 crypt hash (``$6$salt$...``) of ``password``, per Drepper's specification.

    Python's own ``crypt`` module is deprecated (gone in 3.13); this is the 5000-round default form.
    """
    key, salt_bytes = password.encode(), salt.encode()[:16]
    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    first = hashlib.sha512(key + salt_bytes)
    first.update((alternate * (len(key) // 64 + 1))[: len(key)])
    length = len(key)
    while length:
        first.update(alternate if length & 1 else key)
        length >>= 1
    digest = first.digest()
    key_run = (hashlib.sha512(key * len(key)).digest() * (len(key) // 64 + 1))[: len(key)]
    salt_run = (hashlib.sha512(salt_bytes * (16 + digest[0])).digest() * (len(salt_bytes) // 64 + 1))[: len(salt_bytes)]
    for i in range(_ROUNDS):
        step = hashlib.sha512(key_run if i & 1 else digest)
        if i % 3:
            step.update(salt_run)
        if i % 7:
            step.update(key_run)
        step.update(digest if i & 1 else key_run)
        digest = step.digest()
    encoded = []
    for i in range(21):  # byte triples (i, i+21, i+42), rotated by i % 3, then the last byte alone
        triple = (digest[i], digest[i + 21], digest[i + 42])
        encoded.append(_b64_24(*triple[i % 3 :], *triple[: i % 3], count=4))
    encoded.append(_b64_24(0, 0, digest[63], count=2))
    return f"$6${salt_bytes.decode()}${''.join(encoded)}"


def _b64_24(high: int, middle: int, low: int, *, count: int) -> str:
    word = (high << 16) | (middle << 8) | low
    chars = []
    for _ in range(count):
        chars.append(_CRYPT64[word & 0x3F])
        word >>= 6
    return "".join(chars)


def template_password_enabled(conn: Connection, vm: Any) -> bool:
    """Whether ``vm`` (a ``vm_instance`` row) comes from a password-enabled template."""
    return bool(conn.execute(select(vm_template.c.password_enabled).where(vm_template.c.id == vm.template_id)).scalar())


def set_new_password(conn: Connection, vm: Any) -> str:
    """A fresh password for ``vm``: its hash goes to the VM's details (the seed of its next start), it is returned."""
    password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
    salt = "".join(secrets.choice(_CRYPT64) for _ in range(16))
    details = {**(vm.details or {}), HASH_DETAIL: sha512_crypt(password, salt)}
    conn.execute(update(vm_instance).where(vm_instance.c.id == vm.id).values(details=details, update_time=utcnow()))
    return password


def password_hash(vm: Any) -> str | None:
    """The hash of the password set last for ``vm``, or None."""
    value = (vm.details or {}).get(HASH_DETAIL)
    return str(value) if value else None
