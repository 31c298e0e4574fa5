"""Password hashing, secret-key encryption at rest, and API/session key generation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from provisioner.exceptions import ProvisionerError

#: Points at the server key file instead of the one beside the database.
SECRET_KEY_FILE_ENV = "PROVISIONER_SECRET_KEY_FILE"
SERVER_KEY_NAME = "server.key"

_SCHEME = "scrypt"
_VERSION = "1"
# scrypt cost: 2**14 * 8 * 128 bytes = 16 MiB per hash, ~50 ms; the version field allows raising it later.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32


class SecretKeyError(ProvisionerError):
    """The server key is missing, unreadable, or cannot decrypt a stored secret."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a fresh salt.

    Returns:
        ``scrypt$1$<n>$<r>$<p>$<salt>$<hash>``: the version and parameters travel with the hash.
    """
    salt = os.urandom(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_HASH_BYTES)
    return "$".join([_SCHEME, _VERSION, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (a :func:`hash_password` string); constant time."""
    try:
        scheme, version, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME or version != _VERSION:
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def generate_api_key() -> str:
    """A CloudStack-style key: 64 random bytes, url-safe base64 without padding (86 characters)."""
    return _b64(secrets.token_bytes(64))


def generate_session_key() -> str:
    """A session key as CloudStack makes it: 20 random bytes, url-safe base64."""
    return _b64(secrets.token_bytes(20))


def hash_token(token: str) -> str:
    """SHA-256 hex of a high-entropy token (session keys): lookups by hash, nothing usable at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def server_key_path(directory: Path) -> Path:
    """The server key file: ``$PROVISIONER_SECRET_KEY_FILE`` or ``server.key`` in ``directory``."""
    override = os.environ.get(SECRET_KEY_FILE_ENV)
    return Path(override) if override else directory / SERVER_KEY_NAME


def load_or_create_server_key(path: Path) -> bytes:
    """Read the Fernet server key at ``path``, creating it (mode 0600) when absent."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    try:
        # O_EXCL: when two servers start at once, one creates the key and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


class SecretBox:
    """Encrypts secrets (API secret keys) for storage with the server key (Fernet: AES-CBC + HMAC)."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SecretKeyError("the server key is not a valid Fernet key") from exc

    @classmethod
    def from_directory(cls, directory: Path) -> SecretBox:
        """The box for the server key beside the database (created on first start)."""
        return cls(load_or_create_server_key(server_key_path(directory)))

    def encrypt(self, secret: str) -> str:
        """Encrypt ``secret``; the result is ASCII and safe to store."""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt what :meth:`encrypt` produced.

        Raises:
            SecretKeyError: the token was made with another key or was altered.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretKeyError("a stored secret cannot be decrypted with this server key") from exc
