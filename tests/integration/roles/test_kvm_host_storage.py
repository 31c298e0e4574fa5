"""Where the kvm_host role mounts NFS pools and where compute looks for them agree: the role's storage tasks run in
check mode (the kernel here cannot mount NFS, and check mode neither mounts, writes /etc/fstab nor runs virsh),
the mount paths and the libvirt dir pools over them compared with ``disks.mount_directory`` of the same pools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.services.volumes import disks
from tests.integration.roles.support import ROLES, tool_environment
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

UUID = "5f0b3a52-4c3e-4b8e-9a51-0c1f4a7d2e10"
POOLS = [
    {"name": "nfs-a", "uuid": UUID, "zone": "z1", "protocol": "nfs", "scope": "cluster", "address": "198.18.0.20",
     "path": "/export/a", "url": "nfs://198.18.0.20/export/a"},
    {"name": "nfs-b", "zone": "z1", "protocol": "nfs", "scope": "zone", "address": "198.18.0.20",
     "path": "/export/b", "url": "nfs://198.18.0.20/export/b"},
]  # fmt: skip


def storage_results(tmp_path: Path, extra: dict[str, Any], task: str) -> dict[str, dict[str, Any]]:
    """The results of the role's storage task named ``task`` by pool name, from a check-mode run."""
    play = [
        {
            "name": "storage",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "ansible_python_interpreter": sys.executable,
                "kvm_host_storage_pools": POOLS,
                "kvm_host_nfs_access": "mount",
                **extra,
            },
            "tasks": [{"ansible.builtin.include_role": {"name": "kvm_host", "tasks_from": "storage"}}],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = {
        **tool_environment(tmp_path / "ansible"),
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    done = subprocess.run(
        [require_tool("ansible-playbook"), "--check", "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tasks = json.loads(done.stdout)["plays"][0]["tasks"]
    (found,) = [t for t in tasks if t["task"]["name"].endswith(task)]
    return {item["item"]["name"]: item for item in found["hosts"]["localhost"]["results"]}


def mount_results(tmp_path: Path, extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return storage_results(tmp_path, extra, "Mount the NFS pools")


def test_the_role_mounts_where_compute_looks(tmp_path: Path) -> None:
    mounted = mount_results(tmp_path, {})
    paths = {name: result["name"] for name, result in mounted.items()}
    # A pool with its uuid: CloudStack's /mnt/<uuid>, where compute looks by default.
    assert paths["nfs-a"] == "/mnt/" + UUID == disks.mount_directory({"uuid": UUID, "details": {}})
    # Without one, by name: compute finds it through the pool's host_mount_point detail.
    other = {"uuid": "0c1f4a7d", "name": "nfs-b", "details": {disks.HOST_MOUNT_POINT: "/mnt/nfs-b/"}}
    assert paths["nfs-b"] == "/mnt/nfs-b" == disks.mount_directory(other)
    assert mounted["nfs-a"]["changed"] and mounted["nfs-a"]["src"] == "198.18.0.20:/export/a"


def test_a_mount_root_moves_both(tmp_path: Path) -> None:
    paths = {name: r["name"] for name, r in mount_results(tmp_path, {"kvm_host_nfs_mount_root": "/srv/pools"}).items()}
    assert paths == {"nfs-a": f"/srv/pools/{UUID}", "nfs-b": "/srv/pools/nfs-b"}


def test_mounted_pools_become_libvirt_dir_pools_named_by_uuid(tmp_path: Path) -> None:
    """What the libvirt driver's nfs_access=auto looks for on a remote host (an active pool at the directory)."""
    defined = storage_results(tmp_path, {}, "Define, start and autostart the local pools and the NFS mounts in libvirt")
    assert f"pool-define-as {UUID} dir --target /mnt/{UUID} " in defined["nfs-a"]["cmd"]
    assert "pool-define-as nfs-b dir --target /mnt/nfs-b " in defined["nfs-b"]["cmd"]
    local = {"name": "local-1", "zone": "z1", "protocol": "local", "scope": "host", "path": str(tmp_path / "local-1")}
    extra = {"kvm_host_nfs_access": "userspace", "kvm_host_local_storage_pools": [{**local, "url": "file:///x"}]}
    userspace = storage_results(
        tmp_path, extra, "Define, start and autostart the local pools and the NFS mounts in libvirt"
    )
    assert list(userspace) == ["local-1"]  # no NFS mount to define a pool on
    assert f"pool-define-as local-1 dir --target {local['path']} " in userspace["local-1"]["cmd"]
