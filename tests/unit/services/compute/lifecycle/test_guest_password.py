"""The SHA-512 crypt hash the seed carries is the one glibc and OpenSSL compute."""

from __future__ import annotations

import subprocess

import pytest

from provisioner.services.compute.lifecycle.guest_password import sha512_crypt
from tests.support.tools import require_tool


@pytest.mark.parametrize(
    ("password", "salt"),
    [("secret", "saltsalt"), ("Pw3xyz", "a/b.C9"), ("x" * 100, "sixteencharsalt1"), ("é-ü", "Z")],
)
def test_sha512_crypt_matches_openssl(password: str, salt: str) -> None:
    openssl = require_tool("openssl")
    reference = subprocess.run(
        [openssl, "passwd", "-6", "-salt", salt, "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    assert sha512_crypt(password, salt) == reference


def test_a_longer_salt_is_cut_to_sixteen_characters() -> None:
    assert sha512_crypt("pw", "a" * 20) == sha512_crypt("pw", "a" * 16)
