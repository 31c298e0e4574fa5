"""Password hashes, secret encryption with the server key, and generated keys."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from provisioner.services import crypto


def test_password_hash_roundtrip_and_format() -> None:
    stored = crypto.hash_password("s3cret!")
    assert stored.startswith("scrypt$1$")
    assert "s3cret" not in stored
    assert crypto.verify_password("s3cret!", stored)
    assert not crypto.verify_password("s3cret?", stored)
    assert crypto.hash_password("s3cret!") != stored  # per-hash salt


@pytest.mark.parametrize("stored", ["", "md5$abc", "scrypt$9$1$1$1$aa$bb", "scrypt$1$x$8$1$aa$bb"])
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not crypto.verify_password("anything", stored)


def test_secret_box_roundtrip_and_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crypto.SECRET_KEY_FILE_ENV, raising=False)
    box = crypto.SecretBox.from_directory(tmp_path)
    key_file = tmp_path / crypto.SERVER_KEY_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = box.encrypt("the-secret")
    assert "the-secret" not in token
    assert crypto.SecretBox.from_directory(tmp_path).decrypt(token) == "the-secret"  # same key on restart


def test_key_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crypto.SECRET_KEY_FILE_ENV, str(tmp_path / "elsewhere" / "key"))
    crypto.SecretBox.from_directory(tmp_path / "db")
    assert (tmp_path / "elsewhere" / "key").exists()
    assert not (tmp_path / "db" / crypto.SERVER_KEY_NAME).exists()


def test_wrong_key_cannot_decrypt(tmp_path: Path) -> None:
    token = crypto.SecretBox(crypto.load_or_create_server_key(tmp_path / "a")).encrypt("x")
    other = crypto.SecretBox(crypto.load_or_create_server_key(tmp_path / "b"))
    with pytest.raises(crypto.SecretKeyError):
        other.decrypt(token)


def test_generated_keys_look_like_cloudstack() -> None:
    key = crypto.generate_api_key()
    assert len(key) == 86 and re.fullmatch(r"[A-Za-z0-9_-]+", key)
    assert key != crypto.generate_api_key()
    session = crypto.generate_session_key()
    assert len(session) == 27
    assert crypto.hash_token(session) != session and len(crypto.hash_token(session)) == 64
