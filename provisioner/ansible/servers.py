"""Host vars of the service machines: storage servers (NFS, iSCSI, image stores) and management servers."""

from __future__ import annotations

from typing import Any

from provisioner.ansible import facts
from provisioner.model import Cloud, ManagementServer, StorageProtocol, StorageServer


def storage_server_vars(cloud: Cloud, server: StorageServer) -> tuple[dict[str, Any], list[str]]:
    """What a storage server serves, and the role groups it belongs to.

    A pool or image store is served by this machine when its ``server`` is the machine's name or IP.

    Args:
        cloud: the topology.
        server: the storage server.

    Returns:
        The host vars (``nfs_server_*``, ``iscsi_target_*``, ``image_store_*``) and the role groups
        (``nfs_servers``, ``iscsi_targets``, ``image_stores``) it belongs to, in that order.
    """
    mine = (server.name, server.ip)
    exports: list[dict[str, Any]] = []
    luns: list[dict[str, Any]] = []
    directories: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    for zone in cloud.zones:
        clients = list(dict.fromkeys(facts.pod_cidr(pod) for pod in zone.pods))
        for pool in zone.primary_storage:
            if pool.server not in mine:
                continue
            if pool.protocol is StorageProtocol.NFS:
                exports.append(
                    {"name": pool.name, "zone": zone.name, "kind": "primary", "path": pool.path, "clients": clients}
                )
            elif pool.protocol is StorageProtocol.ISCSI:
                lun: dict[str, Any] = {"name": pool.name, "zone": zone.name, "iqn": pool.iqn, "lun": pool.lun}
                if pool.capacity is not None:
                    lun["size"] = pool.capacity
                if pool.chap is not None:
                    lun["chap"] = facts.credential(pool.chap)
                luns.append(lun)
        stores = [store for store in zone.image_stores if store.server in mine]
        for store in stores:
            exports.append(
                {"name": store.name, "zone": zone.name, "kind": "image_store", "path": store.path, "clients": clients}
            )
            directories.append(facts.image_store(store, zone.name, server.ip))
        if stores:
            templates.extend(facts.template(t) for t in cloud.templates if t.zones == "all" or zone.name in t.zones)
    variables = facts.connection(server.ip, server.ssh_user, server.ssh_port)
    variables["provisioner_host"] = server.name
    roles: list[str] = []
    if exports:
        roles.append("nfs_servers")
        variables["nfs_server_backend"] = server.nfs_backend.value
        variables["nfs_server_export_root"] = server.export_root
        variables["nfs_server_exports"] = exports
    if luns:
        roles.append("iscsi_targets")
        variables["iscsi_target_backend"] = server.iscsi_backend.value
        variables["iscsi_target_backing_root"] = server.export_root
        variables["iscsi_target_luns"] = luns
    if directories:
        roles.append("image_stores")
        variables["image_store_directories"] = directories
        variables["image_store_templates"] = list({t["name"]: t for t in templates}.values())
    return variables, roles


def management_server_vars(server: ManagementServer) -> dict[str, Any]:
    """Host vars of a management server: how to reach it, its API port and its database reference."""
    variables = facts.connection(server.ip, server.ssh_user, None)
    variables["provisioner_host"] = server.name
    variables["management_server_api_port"] = server.api_port
    if server.database is not None:
        variables["management_server_database"] = facts.credential(server.database)
    return variables
