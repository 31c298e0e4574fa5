"""End to end: ``provisioner bootstrap`` with the real playbooks and roles on namespace hosts, then the server.

Host 0 is the storage server (NFS through nfs-ganesha, iSCSI through tgt); the others are KVM hosts.
The hosts cannot reach the apt mirror (only 198.18.0.0/15 on a bridge the test makes), so the packages
the roles install are baked into the debootstrap tree (``scripts/build-rootfs.sh --include``).

1. ``test_storage_server_converges_and_serves``: the nfs_server role (ganesha backend) converges,
   a second run changes nothing, and the controller lists the export with libnfs over the bridge.
2. ``test_cloud_comes_up_on_the_server``: one storage server and one KVM host (the least the issue
   allows). The operator's steps: ``provisioner admin ssh-key`` gives the server's public key, which goes
   in the topology (``management_servers[].ssh_public_key``; the kvm_host role authorizes it), then
   ``provisioner bootstrap --api`` converges both hosts (ganesha, tgt, libvirtd started without systemd)
   and registers the cloud: the server lists the zone's KVM host ``Up`` (reached over ``qemu+ssh`` with
   its own key), both primary pools ``Up`` and the image store. A second run changes nothing, on the
   hosts or on the server. Then a template registered through the API lands in the bootstrapped image
   store, and a VM deployed through the API boots on the KVM host (QEMU TCG inside the namespace host)
   with its root disk on a shared mount point pool (the kvm_host role defines it in libvirt; the server
   reaches NFS primary pools' files at /mnt/<pool uuid>, which needs kernel mounts this machine lacks),
   and is destroyed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.bootstrap.support import (
    PASSWORD_VARIABLE,
    bootstrap_env,
    cloud_document,
    result_json,
    run_bootstrap,
    write_topology,
)
from tests.support.guest import BOOT_MARKER
from tests.support.nethosts import NetHost, NetHostFactory, NetHosts
from tests.support.origin import origin
from tests.support.server import REPO_ROOT, LiveServer, sqlite_server
from tests.support.tools import missing, require_tool

pytestmark = pytest.mark.e2e
__all__ = ["sqlite_server"]

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
    "qemu-block-extra",
    # Every real Debian has it (priority important); minbase lacks it, and rpcbind cannot resolve its port without it.
    "netbase",
)
PLANTED = "planted-e2e-b00tstrap-s3cret"
IQN = "iqn.2026-01.test.provisioner:primary1"


def require_roles(*names: str) -> None:
    """Skip (fail under make test) while a role the test converges is not in roles/."""
    for name in names:
        if not (ROLES / name / "tasks" / "main.yml").is_file():
            missing(f"role {name} is not in roles/ yet: this end-to-end test converges it")


def cloud(fleet: NetHosts, *, iscsi: bool) -> dict[str, Any]:
    """Host 0 serves NFS (ganesha) and iSCSI (tgt); hosts 1.. are one KVM cluster.

    With ``iscsi`` the cluster also has a shared mount point pool on the fleet's shared directory (a
    cluster file system, seen at the same path by the hosts and the server), where VM disks go.
    """
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
                "name": "primary-shared",
                "protocol": "fc",
                "scope": "cluster",
                "pod": "p1",
                "cluster": "c1",
                "path": str(fleet.shared[0]),
                "capacity": "20GiB",
                "tags": ["shared"],
            }
        )
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


def _bootstrap(path: Path, env: dict[str, str], url: str) -> dict[str, Any]:
    done = run_bootstrap(
        path,
        env,
        "--output",
        "json",
        "--limit",
        "all:!management_servers",
        "--api",
        url,
        "--wait-up",
        "120",
        timeout=1200,
    )
    report = result_json(done)
    assert done.returncode == 0, done.stderr + "\n" + Path(report["run"]["stdout"]).read_text()[-6000:]
    assert PLANTED not in done.stdout + done.stderr
    return report


@pytest.mark.timeout(1800)
def test_cloud_comes_up_on_the_server(
    tmp_path: Path, net_hosts: NetHostFactory, server: LiveServer, guest_template: Path
) -> None:
    """One storage server and one KVM host: bootstrap converges them and registers the cloud; it comes Up."""
    require_roles("nfs_server", "iscsi_target", "kvm_host")
    # The operator asks the server for its public key and puts it in the topology.
    key = server.cli("admin", "ssh-key")
    assert key.returncode == 0 and key.stdout.startswith("ssh-ed25519 "), key.stderr
    shared = tmp_path / "cluster-fs"
    shared.mkdir()
    fleet = net_hosts(2, packages=PACKAGES, shared=(shared,))
    document = cloud(fleet, iscsi=True)
    document["regions"][0]["management_servers"][0]["ssh_public_key"] = key.stdout.strip()
    path = write_topology(tmp_path / "cloud.yaml", document)
    env = bootstrap_env(fleet, PLANTED) | {
        "PROVISIONER_API_KEY": server.apikey,
        "PROVISIONER_SECRET_KEY": server.secretkey,
    }
    storage, kvm = fleet.hosts

    first = _bootstrap(path, env, server.url)
    assert sorted(first["run"]["hosts"]) == sorted(["stor", kvm.name])
    assert first["sync"]["applied"] is True and first["sync"]["steps"] > 0
    assert first["sync"]["hosts"] == {kvm.name: "Up"}

    # Safe to re-run: nothing changes on the hosts, nothing on the server.
    again = _bootstrap(path, env, server.url)
    changed = {name: host["changed"] for name, host in again["run"]["hosts"].items() if host["changed"]}
    assert not changed, f"second run changed something: {changed}\n{Path(again['run']['stdout']).read_text()[-6000:]}"
    assert again["sync"]["steps"] == 0 and again["sync"]["hosts"] == {kvm.name: "Up"}
    everything = "".join(p.read_text(errors="replace") for p in Path(first["project_dir"]).rglob("*") if p.is_file())
    assert PLANTED not in everything
    assert "PRIVATE KEY" not in everything and server.secretkey not in everything

    # What an operator checks with any CloudStack client.
    api = server.api
    hosts = api.listHosts(type="Routing", fetch_list=True)
    assert [(h["name"], h["state"], h["hypervisor"]) for h in hosts] == [(kvm.name, "Up", "KVM")]
    assert hosts[0]["ipaddress"] == kvm.address
    pools = api.listStoragePools(fetch_list=True)
    assert sorted(p["name"] for p in pools) == ["primary-iscsi", "primary-nfs", "primary-shared"]
    assert all(p["state"] == "Up" for p in pools), pools
    stores = api.listImageStores(fetch_list=True)
    assert [(s["name"], s["url"]) for s in stores] == [("images", f"nfs://{storage.address}/srv/provisioner/secondary")]
    # The server reached libvirt on the host with its own key: the host's authorized keys hold it.
    authorized = fleet.ssh(kvm, "cat /root/.ssh/authorized_keys")
    assert key.stdout.strip() in authorized.stdout

    # A VM deployed through the API runs on the KVM host, from a template in the bootstrapped image store.
    run_a_vm(api, fleet, kvm, guest_template)


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """Poll ``check`` (bounded) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(1)


def run_a_vm(api: Any, fleet: NetHosts, kvm: NetHost, template_file: Path) -> None:
    """Register the tiny template, deploy a VM on the host, see it boot there, destroy it."""
    zone = api.listZones(fetch_list=True)[0]
    api.updateConfiguration(name="secstorage.allow.private.download", value="true")
    offering = api.createServiceOffering(
        name="tiny", displaytext="tiny", cpunumber=1, cpuspeed=500, memory=128, storagetype="shared", tags="shared"
    )["serviceoffering"]
    with origin(template_file.parent) as url:
        template = api.registerTemplate(
            name="tiny",
            displaytext="tiny",
            url=f"{url}/files/{template_file.name}",
            format="QCOW2",
            hypervisor="KVM",
            zoneid=zone["id"],
            ostypeid=api.listOsTypes()["ostype"][0]["id"],
        )["template"][0]
        wait_for(
            "the template to be downloaded into the image store",
            lambda: all(t["isready"] for t in api.listTemplates(id=template["id"], templatefilter="all")["template"]),
            timeout=180,
        )
    vm = api.deployVirtualMachine(
        zoneid=zone["id"], serviceofferingid=offering["id"], templateid=template["id"], name="vm1"
    )["virtualmachine"]
    assert (vm["state"], vm["hostname"]) == ("Running", kvm.name)
    # The guest network got the zone's first guest VLAN (100): the driver made its bridge on the host over ssh,
    # br<pif>-<vlan> on the guest label cloudbr1 (the role made it without a port, so the pif is cloudbr1 itself).
    assert "brcloudbr1-100" in fleet.ssh(kvm, f"virsh domiflist {vm['instancename']}").stdout
    assert fleet.ssh(kvm, "test -d /sys/class/net/brcloudbr1-100/bridge").returncode == 0
    try:
        # The guest's serial console, on the host, shows it booted (QEMU runs in the host's namespace).
        console = f"/var/log/libvirt/qemu/{vm['instancename']}.console.log"
        wait_for(
            "the guest to boot on the KVM host",
            lambda: BOOT_MARKER in fleet.ssh(kvm, f"cat {console}").stdout,
            timeout=240,
        )
        listed = fleet.ssh(kvm, "virsh -q list --name").stdout.split()
        assert vm["instancename"] in listed
    finally:
        api.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert vm["instancename"] not in fleet.ssh(kvm, "virsh -q list --all --name").stdout.split()
    # No guest is left on the VLAN bridge: the driver removed it.
    assert fleet.ssh(kvm, "test -e /sys/class/net/brcloudbr1-100").returncode == 1
