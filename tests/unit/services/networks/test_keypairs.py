"""SSH key pair rules in the service: public key validation, CloudStack's fingerprint, the key a deployment reads
(SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from provisioner.exceptions import ParamError
from provisioner.services.compute import keypairs
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.networks.world import World, make_world

RSA = keypairs.generate_key_pair()[0]


def test_sanitize_accepts_authorized_keys_lines() -> None:
    assert keypairs.sanitize_public_key(f"  {RSA} me@host  ") == f"{RSA} me@host"
    assert keypairs.sanitize_public_key(f'no-pty,command="/bin/true" {RSA} me') == f"{RSA} me"
    blob = base64.b64decode(RSA.split()[1])
    assert keypairs.fingerprint(RSA) == ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected"),
        ("ssh-rsa", "expected"),
        ("ssh-foo AAAA", "expected"),
        ("ssh-rsa not-base64!", "not valid base64"),
        ("ssh-ed25519 " + RSA.split()[1], "holds a 'ssh-rsa' key"),
    ],
)
def test_sanitize_refuses(text: str, why: str) -> None:
    with pytest.raises(ParamError, match=why):
        keypairs.sanitize_public_key(text)


def test_generated_keys_match() -> None:
    public, private = keypairs.generate_key_pair()
    key = serialization.load_pem_private_key(private.encode(), password=None)
    assert key.key_size == 2048  # type: ignore[union-attr]
    derived = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert derived.decode() == public


def test_the_key_a_deployment_reads(cloud: Cloud) -> None:
    world: World = make_world(cloud)
    made = world.run(keypairs.register_ssh_keypair, "alice", name="k", publickey=RSA + " alice")
    assert made["name"] == "k" and "privatekey" not in made
    with cloud.engine.begin() as conn:
        assert keypairs.public_key_of(conn, cloud.accounts["alice"], "k") == RSA + " alice"
        with pytest.raises(ParamError, match="A key pair with name 'k' was not found"):
            keypairs.public_key_of(conn, cloud.accounts["bob"], "k")
    created = world.run(keypairs.create_ssh_keypair, "bob", name="k")
    assert created["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    rows, total = world.run(keypairs.list_ssh_keypairs, "admin", listall=True)
    assert total == 2 and all("privatekey" not in row for row in rows)
    with pytest.raises(ParamError, match="already exists"):
        world.run(keypairs.create_ssh_keypair, "bob", name="k")
