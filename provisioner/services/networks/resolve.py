"""Which guest-network-area UUIDs exist: the API layer's parameter resolver for these entity kinds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table

from provisioner.db.schema import affinity_group, guest_network, instance_group, nic
from provisioner.services.common import live_uuids

#: ``@Parameter(entityType=...)`` names to tables.
ENTITIES: dict[str, Table] = {
    "Network": guest_network,
    "Nic": nic,
    "AffinityGroup": affinity_group,
    "InstanceGroup": instance_group,
}


def network_ids(conn: Connection, entity: str, ids: Sequence[str]) -> set[str] | None:
    """The UUIDs among ``ids`` naming live rows of ``entity``; None when the kind is not this area's."""
    table = ENTITIES.get(entity)
    return None if table is None else live_uuids(conn, table, ids)
