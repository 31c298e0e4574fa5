"""End to end: ``provisioner bootstrap`` with the real playbooks and roles on namespace hosts, then the server.

Host 0 is the storage server (NFS through nfs-ganesha, iSCSI through tgt); the others are KVM hosts.
The hosts cannot reach the apt mirror (only 198.18.0.0/15 on a bridge the test makes), so the packages
the roles install are baked into the debootstrap tree (``scripts/build-rootfs.sh --include``).

1. ``test_storage_server_converges_and_serves``: the nfs_server role (ganesha backend) converges,
   a second run changes nothing, and the controller lists the export with libnfs over the bridge.
2. ``test_cloud_comes_up_on_the_server``: the whole cloud (storage server + KVM hosts) converges,
   re-runs with changed=0, and ``--api`` registers it: the server lists the zone, pod, cluster, the
   KVM hosts ``Up`` and the primary storage and image store. It needs the kvm_host and iscsi_target
   roles, and an inventory that authorizes the server's ssh key on the KVM hosts
   (``kvm_host_management_ssh_public_keys``: the server reaches libvirt over ``qemu+ssh``); until the
   inventory sets it, the test skips saying so. Deploying a VM is not part of it yet.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from provisioner.ansible import build_inventory
from provisioner.config import load_topology
from tests.integration.bootstrap.support import (
    PASSWORD_VARIABLE,
    bootstrap_env,
    cloud_document,
    result_json,
    run_bootstrap,
    write_topology,
)
from tests.support.nethosts import NetHostFactory, NetHosts
from tests.support.server import REPO_ROOT, LiveServer
from tests.support.tools import missing, require_tool

pytestmark = pytest.mark.e2e

ROLES = REPO_ROOT / "roles"
#: What the roles install, baked into the hosts' tree (they have no route to the apt mirror).
PACKAGES = (
    "nfs-ganesha",
    "nfs-ganesha-vfs",
    "rpcbind",
    "tgt",
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
)
PLANTED = "planted-e2e-b00tstrap-s3cret"
IQN = "iqn.2026-01.test.provisioner:primary1"


def require_roles(*names: str) -> None:
    """Skip (fail under make test) while a role the test converges is not in roles/."""
    for name in names:
        if not (ROLES / name / "tasks" / "main.yml").is_file():
            missing(f"role {name} is not in roles/ yet: this end-to-end test converges it")


def cloud(fleet: NetHosts, *, iscsi: bool) -> dict[str, Any]:
    """Host 0 serves NFS (ganesha) and iSCSI (tgt); hosts 1.. are one KVM cluster."""
    storage, *kvm = fleet.hosts
    pools: list[dict[str, Any]] = [
        {
            "name": "primary-nfs",
            "protocol": "nfs",
            "scope": "zone",
            "hypervisor": "kvm",
            "server": "stor",
            "path": "/srv/provisioner/primary",
        }
    ]
    if iscsi:
        pools.append(
            {
                "name": "primary-iscsi",
                "protocol": "iscsi",
                "scope": "cluster",
                "pod": "p1",
                "cluster": "c1",
                "server": "stor",
                "iqn": IQN,
                "lun": 1,
                "capacity": "1GiB",
            }
        )
    hosts = [{"name": h.name, "ip": h.address, "credentials": {"env": PASSWORD_VARIABLE}} for h in kvm]
    return cloud_document(
        fleet,
        hosts,
        name="e2elab",
        primary_storage=pools,
        image_stores=[{"name": "images", "server": "stor", "path": "/srv/provisioner/secondary"}],
        storage_servers=[
            {"name": "stor", "ip": storage.address, "nfs_backend": "ganesha", "iscsi_backend": "tgt", "zone": "z1"}
        ],
    )


def _converge_twice(path: Path, env: dict[str, str], limit: str = "all:!management_servers") -> dict[str, Any]:
    first = run_bootstrap(path, env, "--output", "json", "--limit", limit, timeout=1200)
    report = result_json(first)
    assert first.returncode == 0, first.stderr + "\n" + Path(report["run"]["stdout"]).read_text()[-6000:]
    second = run_bootstrap(path, env, "--output", "json", "--limit", limit, timeout=1200)
    again = result_json(second)
    assert second.returncode == 0, second.stderr
    changed = {name: host["changed"] for name, host in again["run"]["hosts"].items() if host["changed"]}
    assert not changed, f"second run changed something: {changed}\n{Path(again['run']['stdout']).read_text()[-6000:]}"
    everything = "".join(p.read_text(errors="replace") for p in Path(report["project_dir"]).rglob("*") if p.is_file())
    assert PLANTED not in everything + first.stdout + first.stderr + second.stdout + second.stderr
    return again


def test_storage_server_converges_and_serves(tmp_path: Path, net_hosts: NetHostFactory) -> None:
    require_roles("nfs_server")
    nfs_ls = require_tool("nfs-ls")
    fleet = net_hosts(2, packages=PACKAGES)
    path = write_topology(tmp_path / "cloud.yaml", cloud(fleet, iscsi=False))
    env = bootstrap_env(fleet, PLANTED)
    report = _converge_twice(path, env, limit="nfs_servers")
    assert sorted(report["run"]["hosts"]) == ["stor"]
    storage = fleet.hosts[0]
    listing = subprocess.run(
        [nfs_ls, f"nfs://{storage.address}/srv/provisioner/primary?version=4"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr


def _server_can_reach_libvirt(path: Path) -> bool:
    """Whether the rendered inventory authorizes the management server's key on the KVM hosts.

    The server reaches libvirt over ``qemu+ssh://root@host/system``: without its public key in
    ``kvm_host_management_ssh_public_keys`` no KVM host can come Up.
    """
    inventory = build_inventory(load_topology(path))
    return any("kvm_host_management_ssh_public_keys" in g.vars for g in inventory.groups.values()) or any(
        "kvm_host_management_ssh_public_keys" in v for v in inventory.hostvars.values()
    )


@pytest.mark.timeout(2400)
def test_cloud_comes_up_on_the_server(tmp_path: Path, net_hosts: NetHostFactory, live_server: LiveServer) -> None:
    require_roles("nfs_server", "iscsi_target", "kvm_host")
    fleet = net_hosts(3, packages=PACKAGES)
    path = write_topology(tmp_path / "cloud.yaml", cloud(fleet, iscsi=True))
    if not _server_can_reach_libvirt(path):
        # A known gap, not a missing tool: the topology has no management-server key for the kvm_host role yet.
        pytest.skip("the inventory sets no kvm_host_management_ssh_public_keys: the server cannot reach libvirt")
    env = bootstrap_env(fleet, PLANTED)
    _converge_twice(path, env)
    api_env = env | {"PROVISIONER_API_KEY": live_server.apikey, "PROVISIONER_SECRET_KEY": live_server.secretkey}
    done = run_bootstrap(
        path,
        api_env,
        "--output",
        "json",
        "--limit",
        "all:!management_servers",
        "--api",
        live_server.url,
        "--wait-up",
        "180",
        timeout=1200,
    )
    report = result_json(done)
    assert done.returncode == 0, done.stderr + "\n" + live_server.log()[-4000:]
    assert report["sync"]["applied"] is True
    kvm_names = sorted(h.name for h in fleet.hosts[1:])
    assert report["sync"]["hosts"] == dict.fromkeys(kvm_names, "Up")
    api = live_server.api()
    hosts = api.listHosts(type="Routing", fetch_list=True)
    assert sorted((h["name"], h["state"]) for h in hosts) == [(name, "Up") for name in kvm_names]
    pools = api.listStoragePools(fetch_list=True)
    assert sorted(p["name"] for p in pools) == ["primary-iscsi", "primary-nfs"]
    assert all(p["state"] == "Up" for p in pools), pools
    stores = api.listImageStores(fetch_list=True)
    assert [s["name"] for s in stores] == ["images"]
    assert live_server.secretkey not in done.stdout + done.stderr
