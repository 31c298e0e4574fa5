"""The kvm_host role's TLS access on a namespace host: libvirtd listens with the CA and host certificate the
role installs (the host's key read with a lookup under no_log), and the controller connects over
``qemu+tls://`` with a client certificate of the same CA. A second run changes nothing.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import subprocess
from pathlib import Path

import libvirt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.bootstrap.test_bootstrap_cloud import PACKAGES
from tests.support.nethosts import NetHostFactory, NetHosts
from tests.support.server import REPO_ROOT
from tests.support.tools import VENV_BIN, require_tool

pytestmark = pytest.mark.e2e

KEY_VARIABLE = "KVM_HOST_TLS_TEST_KEY"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
    address: str | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if address is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(value: x509.Certificate | ec.EllipticCurvePrivateKey) -> str:
    if isinstance(value, x509.Certificate):
        return value.public_bytes(serialization.Encoding.PEM).decode()
    return value.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _converge(fleet: NetHosts, work: Path, variables: dict[str, object], env: dict[str, str]) -> str:
    inventory = work / "inventory.yml"
    host = fleet.hosts[0]
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        host.name: {
                            "ansible_host": host.address,
                            "ansible_user": "root",
                            "ansible_ssh_private_key_file": str(fleet.key),
                        }
                    }
                }
            }
        )
    )
    playbook = work / "tls.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"name": "KVM host with TLS access", "hosts": "all", "gather_facts": False, "roles": ["kvm_host"]}]
        )
    )
    (work / "vars.yml").write_text(yaml.safe_dump(variables))
    done = subprocess.run(
        [require_tool("ansible-playbook"), "-i", str(inventory), "-e", f"@{work / 'vars.yml'}", str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.timeout(1200)
def test_libvirt_over_tls(tmp_path: Path, net_hosts: NetHostFactory) -> None:
    fleet = net_hosts(1, packages=PACKAGES)
    host = fleet.hosts[0]
    ca_key, host_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("provisioner test CA", ca_key)
    server_cert = _certificate(host.name, host_key, ("provisioner test CA", ca_key), address=host.address)
    client_cert = _certificate("management", client_key, ("provisioner test CA", ca_key))
    pki = tmp_path / "pki"
    pki.mkdir(mode=0o700)
    (pki / "cacert.pem").write_text(_pem(ca))
    (pki / "clientcert.pem").write_text(_pem(client_cert))
    (pki / "clientkey.pem").write_text(_pem(client_key))
    (pki / "clientkey.pem").chmod(0o600)
    secret = _pem(host_key)
    home = tmp_path / "ansible-home"
    env = {
        "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_NOCOLOR": "1",
        KEY_VARIABLE: secret,
    }
    variables = {
        "kvm_host_libvirt_access": "tls",
        "kvm_host_tls_ca_cert": _pem(ca),
        "kvm_host_tls_server_cert": _pem(server_cert),
        "kvm_host_tls_server_key": {"kind": "env", "reference": KEY_VARIABLE, "lookup_plugin": "ansible.builtin.env"},
        "kvm_host_report_facts": False,
    }
    first = _converge(fleet, tmp_path, variables, env)
    second = _converge(fleet, tmp_path, variables, env)
    assert re.search(rf"{host.name}\s*:\s*ok=\d+\s+changed=0\s", second), second[-3000:]
    assert secret.splitlines()[1] not in first + second, "the host's private key reached the output"

    conn = libvirt.open(f"qemu+tls://{host.address}/system?pkipath={pki}")
    try:
        assert conn.getHostname() == host.name
        assert conn.getLibVersion() >= 9_000_000
    finally:
        conn.close()
    # Without a certificate of the CA the host refuses the client.
    stranger = tmp_path / "stranger"
    stranger.mkdir(mode=0o700)
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    (stranger / "cacert.pem").write_text(_pem(ca))
    (stranger / "clientcert.pem").write_text(_pem(_certificate("stranger", client_key, ("another CA", other_ca_key))))
    (stranger / "clientkey.pem").write_text(_pem(client_key))
    with pytest.raises(libvirt.libvirtError):
        libvirt.open(f"qemu+tls://{host.address}/system?pkipath={stranger}").close()
