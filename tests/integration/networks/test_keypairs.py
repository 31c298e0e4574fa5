"""SSH key pairs through ``cs`` and Libcloud on a live server (SQLite and PostgreSQL): create, register, list,
delete, the fingerprint OpenSSH computes, the private key shown once, and who sees whose keys."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.integration.networks.support import error_code, error_text, make_people
from tests.support.server import LiveServer
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration


def _ed25519_public() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _openssh_md5(public_key: str, tmp_path: Path) -> str:
    path = tmp_path / "key.pub"
    path.write_text(public_key + "\n")
    out = subprocess.run(
        [require_tool("ssh-keygen"), "-l", "-E", "md5", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return out.split()[1].removeprefix("MD5:")


def test_keypairs_with_cs(live_server: LiveServer, tmp_path: Path) -> None:
    people = make_people(live_server)
    alice, bob, dadmin, root = (people.clients[n] for n in ("alice", "bob", "dadmin", "root"))

    created = alice.createSSHKeyPair(name="made")["keypair"]
    assert created["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert set(created) >= {"id", "name", "fingerprint", "account", "domainid", "domain"}
    assert created["account"] == "alice"
    # The private key matches the fingerprint, and is never shown again.
    private = serialization.load_pem_private_key(created["privatekey"].encode(), password=None)
    public = (
        private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    )
    assert created["fingerprint"] == _openssh_md5(public, tmp_path)
    listed = alice.listSSHKeyPairs(name="made")["sshkeypair"]
    assert [(k["id"], k["fingerprint"]) for k in listed] == [(created["id"], created["fingerprint"])]
    assert "privatekey" not in listed[0]
    assert created["privatekey"] not in live_server.log()

    key = _ed25519_public() + " alice@laptop"
    registered = alice.registerSSHKeyPair(name="mine", publickey=key)["keypair"]
    assert registered["fingerprint"] == _openssh_md5(key, tmp_path)
    assert "privatekey" not in registered
    by_fingerprint = alice.listSSHKeyPairs(fingerprint=registered["fingerprint"])["sshkeypair"]
    assert [k["name"] for k in by_fingerprint] == ["mine"]
    assert alice.listSSHKeyPairs()["count"] == 2
    assert alice.listSSHKeyPairs(keyword="MIN")["count"] == 1

    # Names are unique per account, not across accounts.
    assert "already exists" in error_text(alice.createSSHKeyPair, name="mine")
    assert bob.registerSSHKeyPair(name="mine", publickey=key)["keypair"]["account"] == "bob"
    for bad in ("not a key", "ssh-rsa !!!", "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x07ssh-rsa").decode()):
        assert error_code(alice.registerSSHKeyPair, name="bad", publickey=bad) == 431

    # Users see their own keys; the domain admin lists its domain with listall; root everything.
    assert {k["account"] for k in bob.listSSHKeyPairs(listall=True)["sshkeypair"]} == {"bob"}
    assert {k["account"] for k in dadmin.listSSHKeyPairs(listall=True)["sshkeypair"]} == {"alice", "bob"}
    assert dadmin.listSSHKeyPairs().get("count", 0) == 0
    assert root.listSSHKeyPairs(listall=True)["count"] == 3
    assert root.listSSHKeyPairs(account="alice", domainid=people.ids["d1"])["count"] == 2
    # Acting for another account: admins of its domain may, other users and other domains' admins may not.
    made_for = dadmin.createSSHKeyPair(name="by-admin", account="bob", domainid=people.ids["d1"])["keypair"]
    assert made_for["account"] == "bob"
    assert error_code(alice.createSSHKeyPair, name="x", account="bob", domainid=people.ids["d1"]) == 531
    assert (
        error_code(people.clients["eve"].deleteSSHKeyPair, name="mine", account="bob", domainid=people.ids["d1"]) == 531
    )

    assert bob.deleteSSHKeyPair(name="mine")["success"] is True
    assert error_code(bob.deleteSSHKeyPair, name="mine") == 431
    assert alice.listSSHKeyPairs(name="mine")["count"] == 1  # alice's key of the same name stays


def test_keypairs_with_libcloud(live_server: LiveServer) -> None:
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    created = driver.create_key_pair("lc-made")
    assert created.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    public = _ed25519_public()
    imported = driver.import_key_pair_from_string("lc-imported", public)
    blob = base64.b64decode(public.split()[1])
    assert imported.fingerprint == ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    assert sorted(k.name for k in driver.list_key_pairs()) == ["lc-imported", "lc-made"]
    assert driver.get_key_pair("lc-made").fingerprint == created.fingerprint
    # Libcloud compares ``success`` with the string "true" of old CloudStack releases; 4.x (and this server)
    # answer a JSON boolean, so its return value is False there too: what counts is that the key is gone.
    driver.delete_key_pair(created)
    assert [k.name for k in driver.list_key_pairs()] == ["lc-imported"]
