"""Which infrastructure UUIDs exist: the API layer's parameter resolver for these entity kinds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table

from provisioner.db.schema import (
    cluster,
    disk_offering,
    host,
    image_store,
    network_offering,
    network_service_provider,
    os_category,
    os_type,
    physical_network,
    physical_network_traffic_type,
    pod,
    service_offering,
    storage_pool,
    virtual_router_element,
    vlan_ip_range,
    zone,
)
from provisioner.services.common import live_uuids

#: ``@Parameter(entityType=...)`` names (CloudStack's response class stems) to tables.
ENTITIES: dict[str, Table] = {
    "Zone": zone,
    "Pod": pod,
    "Cluster": cluster,
    "Host": host,
    "StoragePool": storage_pool,
    "ImageStore": image_store,
    "PhysicalNetwork": physical_network,
    "TrafficType": physical_network_traffic_type,
    "PhysicalNetworkServiceProvider": network_service_provider,
    "VirtualRouterProvider": virtual_router_element,
    "Vlan": vlan_ip_range,
    "ServiceOffering": service_offering,
    "DiskOffering": disk_offering,
    "NetworkOffering": network_offering,
    "GuestOS": os_type,
    "GuestOSCategory": os_category,
}


def existing_ids(conn: Connection, entity: str, ids: Sequence[str]) -> set[str] | None:
    """The UUIDs among ``ids`` that name live rows of ``entity``; None when the entity is not infrastructure.

    One indexed ``IN`` query, however many ids a list parameter carries.
    """
    table = ENTITIES.get(entity)
    return None if table is None else live_uuids(conn, table, ids)
