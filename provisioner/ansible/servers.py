"""Host vars of the service machines: storage servers (NFS, iSCSI, image stores) and management servers."""

from __future__ import annotations

from typing import Any

from provisioner.ansible import facts
from provisioner.model import Cloud, ManagementServer, StorageProtocol, StorageServer


def storage_server_vars(cloud: Cloud, pod_cidrs: dict[int, str]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """What each storage server serves, and the role groups it belongs to.

    A pool or image store is served by a storage server when its ``server`` is that machine's
    name or IP. Pools on other servers (an existing NAS) are attached by hosts but served by nobody.

    Args:
        cloud: the topology.
        pod_cidrs: each pod's CIDR by ``id(pod)`` (the NFS clients of a zone are its pods).

    Returns:
        By server name: the host vars (``nfs_server_*``, ``iscsi_target_*``, ``image_store_*``) and
        the role groups (``nfs_servers``, ``iscsi_targets``, ``image_stores``) it belongs to.
    """
    by_key: dict[str, _Served] = {}
    served = [_Served(server) for server in cloud.storage_servers]
    for entry in served:
        by_key.setdefault(entry.server.name, entry)
        by_key.setdefault(entry.server.ip, entry)
    for zone in cloud.zones:
        clients = list(dict.fromkeys(pod_cidrs[id(pod)] for pod in zone.pods))
        for pool in zone.primary_storage:
            pool_entry = by_key.get(pool.server or "")
            if pool_entry is None:
                continue
            if pool.protocol is StorageProtocol.NFS:
                pool_entry.exports.append(
                    {"name": pool.name, "zone": zone.name, "kind": "primary", "path": pool.path, "clients": clients}
                )
            elif pool.protocol is StorageProtocol.ISCSI:
                lun: dict[str, Any] = {"name": pool.name, "zone": zone.name, "iqn": pool.iqn, "lun": pool.lun}
                if pool.capacity is not None:
                    lun["size"] = pool.capacity
                if pool.chap is not None:
                    lun["chap"] = facts.credential(pool.chap)
                pool_entry.luns.append(lun)
        templates = [facts.template(t) for t in cloud.templates if t.zones == "all" or zone.name in t.zones]
        for store in zone.image_stores:
            store_entry = by_key.get(store.server)
            if store_entry is None:
                continue
            store_entry.exports.append(
                {"name": store.name, "zone": zone.name, "kind": "image_store", "path": store.path, "clients": clients}
            )
            store_entry.directories.append(facts.image_store(store, zone.name, store_entry.server.ip))
            store_entry.templates.update((t["name"], t) for t in templates)
    return {entry.server.name: entry.render() for entry in served}


class _Served:
    """What one storage server serves, collected over all zones."""

    def __init__(self, server: StorageServer) -> None:
        self.server = server
        self.exports: list[dict[str, Any]] = []
        self.luns: list[dict[str, Any]] = []
        self.directories: list[dict[str, Any]] = []
        self.templates: dict[str, dict[str, Any]] = {}

    def render(self) -> tuple[dict[str, Any], list[str]]:
        server = self.server
        variables = facts.connection(server.ip, server.ssh_user, server.ssh_port)
        roles: list[str] = []
        if self.exports:
            roles.append("nfs_servers")
            variables["nfs_server_backend"] = server.nfs_backend.value
            variables["nfs_server_export_root"] = server.export_root
            variables["nfs_server_exports"] = self.exports
        if self.luns:
            roles.append("iscsi_targets")
            variables["iscsi_target_backend"] = server.iscsi_backend.value
            # A directory of its own (0700): the NFS export root beside it is 0755 and must stay so.
            variables["iscsi_target_backing_root"] = f"{server.export_root.rstrip('/')}/iscsi"
            variables["iscsi_target_luns"] = self.luns
        if self.directories:
            roles.append("image_stores")
            variables["image_store_directories"] = self.directories
            variables["image_store_templates"] = list(self.templates.values())
        return variables, roles


def management_server_vars(server: ManagementServer) -> dict[str, Any]:
    """Host vars of a management server: how to reach it, its API port and its database reference."""
    variables = facts.connection(server.ip, server.ssh_user, None)
    variables["management_server_api_port"] = server.api_port
    if server.database is not None:
        variables["management_server_database"] = facts.credential(server.database)
    return variables
