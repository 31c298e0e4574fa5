"""Topologies over namespace hosts, a stand-in playbook set, and running ``provisioner bootstrap``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.nethosts import NetHosts
from tests.support.tools import require_tool

#: The environment variable the topology names for the SSH private key (runner's ssh_key input).
KEY_VARIABLE = "BOOTSTRAP_TEST_SSH_KEY"
#: The environment variable the topology names as the hosts' credentials.
PASSWORD_VARIABLE = "BOOTSTRAP_TEST_ROOT_PASSWORD"

# A stand-in for playbooks/: the concerns render_project imports, each a small idempotent play that
# touches the host (a file written once), reads a secret under no_log, and reports its facts.
_HYPERVISORS = """\
---
- name: Prepare hypervisor hosts
  hosts: kvm_hosts
  gather_facts: false
  tasks:
    - name: Check that Ansible reaches the host
      ansible.builtin.ping:

    - name: Read the host credentials (never shown)
      ansible.builtin.set_fact:
        __password: "{{ lookup(provisioner_host_credentials.lookup_plugin, provisioner_host_credentials.reference) }}"
      no_log: true

    - name: Check the credentials arrived
      ansible.builtin.assert:
        that: [__password | length > 8]
        quiet: true

    - name: Mark the host as bootstrapped
      ansible.builtin.copy:
        dest: /etc/provisioner-bootstrapped
        content: "{{ provisioner_cluster }} {{ provisioner_zone }}\\n"
        mode: "0644"

    - name: Install a package that is already there
      ansible.builtin.apt:
        name: iproute2
        state: present
"""
_EMPTY = """\
---
- name: Nothing for {concern} in this test
  hosts: localhost
  gather_facts: false
  tasks: []
"""


def write_playbooks(directory: Path, hypervisors: str = _HYPERVISORS) -> Path:
    """Write a stand-in playbook set (point ``PROVISIONER_PLAYBOOKS_DIR`` at the result).

    Args:
        directory: where to write it.
        hypervisors: the hypervisor play; the other concerns get empty plays.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "site.yml").write_text(
        "---\n- name: Hypervisors\n  ansible.builtin.import_playbook: hypervisors.yml\n"
    )
    (directory / "hypervisors.yml").write_text(hypervisors)
    for concern in ("storage", "templates", "management"):
        (directory / f"{concern}.yml").write_text(_EMPTY.format(concern=concern))
    return directory


def cloud_document(
    fleet: NetHosts,
    hosts: list[dict[str, Any]],
    *,
    name: str,
    primary_storage: list[dict[str, Any]],
    image_stores: list[dict[str, Any]],
    storage_servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A one-zone, one-pod cloud on the fleet's /24 whose KVM cluster ``c1`` holds ``hosts``."""
    subnet = fleet.gateway.rsplit(".", 1)[0]
    return {
        "version": 1,
        "name": name,
        "ansible": {"ssh_user": "root", "ssh_private_key": {"env": KEY_VARIABLE}},
        "regions": [{"name": "r1", "management_servers": [{"name": "ms", "ip": "127.0.0.1", "api_port": 8080}]}],
        "storage_servers": storage_servers or [],
        "zones": [
            {
                "name": "z1",
                "region": "r1",
                "network_type": "Advanced",
                "dns": [fleet.gateway],
                "internal_dns": [fleet.gateway],
                "guest_cidr": "198.19.0.0/20",
                "physical_networks": [
                    {
                        "name": "net1",
                        "vlan_ranges": ["100-199"],
                        "traffic": [
                            {"type": "management", "kvm_label": "cloudbr0"},
                            {"type": "guest", "kvm_label": "cloudbr1"},
                            {"type": "public", "kvm_label": "cloudbr1"},
                        ],
                        "public_ip_ranges": [
                            {
                                "gateway": "198.19.250.1",
                                "netmask": "255.255.255.0",
                                "start_ip": "198.19.250.10",
                                "end_ip": "198.19.250.99",
                                "vlan": 50,
                            }
                        ],
                    }
                ],
                "pods": [
                    {
                        "name": "p1",
                        "gateway": fleet.gateway,
                        "netmask": "255.255.255.0",
                        "start_ip": f"{subnet}.220",
                        "end_ip": f"{subnet}.240",
                        "clusters": [{"name": "c1", "hypervisor": "kvm", "hosts": hosts}],
                    }
                ],
                "primary_storage": primary_storage,
                "image_stores": image_stores,
            }
        ],
    }


def topology(fleet: NetHosts, *, extra_hosts: dict[str, str] | None = None, name: str = "nslab") -> dict[str, Any]:
    """A one-zone cloud whose KVM cluster is the fleet (plus ``extra_hosts``: name -> address)."""
    addresses = {host.name: host.address for host in fleet.hosts} | (extra_hosts or {})
    hosts = [{"name": n, "ip": ip, "credentials": {"env": PASSWORD_VARIABLE}} for n, ip in addresses.items()]
    pool = {"protocol": "nfs", "scope": "zone", "hypervisor": "kvm", "server": fleet.gateway}
    return cloud_document(
        fleet,
        hosts,
        name=name,
        primary_storage=[{"name": "primary1", **pool, "path": "/srv/primary"}],
        image_stores=[{"name": "images1", "server": fleet.gateway, "path": "/srv/secondary"}],
    )


def write_topology(path: Path, document: dict[str, Any]) -> Path:
    """Write a topology document and return its path."""
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def bootstrap_env(fleet: NetHosts, secret: str, **extra: str) -> dict[str, str]:
    """The environment of a bootstrap run: the key and password in variables, a private Ansible home."""
    home = fleet.work / "ansible-home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        KEY_VARIABLE: fleet.key.read_text(),
        PASSWORD_VARIABLE: secret,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null",
        "ANSIBLE_TIMEOUT": "30",  # ssh connect: the shared 2-core machine can be at load 20+
        **extra,
    }


def run_bootstrap(
    topology_path: Path, env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``provisioner bootstrap TOPOLOGY ARGS`` as a user runs it (bounded)."""
    return subprocess.run(
        [require_tool("provisioner"), "bootstrap", str(topology_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def result_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ``--output json`` document of a run (fails with its stderr when stdout is not JSON)."""
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        raise AssertionError(f"no JSON on stdout (rc={done.returncode}):\n{done.stdout}\n{done.stderr}") from None
