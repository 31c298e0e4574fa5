"""Regions, zones, pods and clusters: the containers every host and pool lives in."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

# Re-exported for the schema modules that import it from here (compute.py); new code takes it from base.
from provisioner.db.schema.base import (
    BigId,
    created_column,
    id_column,
    live_only,
    metadata,
    removed_column,
    uuid_column,
)

region = Table(
    "region",
    metadata,
    # CloudStack region ids are chosen by the admin (1 = the local region), so no autoincrement.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("endpoint", String(1024), nullable=False),
    Column("gslb_service_enabled", Boolean, nullable=False, default=True),
    Column("portableip_service_enabled", Boolean, nullable=False, default=False),
    Index("ix_region_name", "name", unique=True),
)

zone = Table(
    "zone",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("network_type", String(32), nullable=False),  # Basic | Advanced
    Column("dns1", String(64), nullable=True),
    Column("dns2", String(64), nullable=True),
    Column("ip6_dns1", String(64), nullable=True),
    Column("ip6_dns2", String(64), nullable=True),
    Column("internal_dns1", String(64), nullable=True),
    Column("internal_dns2", String(64), nullable=True),
    Column("guest_cidr", String(64), nullable=True),
    Column("network_domain", String(255), nullable=True),
    Column("allocation_state", String(32), nullable=False, default="Disabled"),
    Column("local_storage_enabled", Boolean, nullable=False, default=False),
    Column("security_groups_enabled", Boolean, nullable=False, default=False),
    Column("dhcp_provider", String(64), nullable=False, default="VirtualRouter"),
    Column("zone_token", String(64), nullable=False),
    created_column(),
    removed_column(),
    Index("uq_zone_live_name", "name", unique=True, **live_only()),
    Index("ix_zone_name", "name"),
    Index("ix_zone_network_type", "network_type"),
    Index("ix_zone_allocation_state", "allocation_state"),
    Index("ix_zone_removed", "removed"),
)

pod = Table(
    "pod",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("gateway", String(64), nullable=True),
    Column("cidr", String(64), nullable=True),  # network address/prefix of gateway + netmask
    Column("start_ip", String(64), nullable=True),
    Column("end_ip", String(64), nullable=True),
    Column("allocation_state", String(32), nullable=False, default="Enabled"),
    created_column(),
    removed_column(),
    Index("ix_pod_zone_id_name", "zone_id", "name", unique=True, **live_only()),
    Index("ix_pod_zone_id", "zone_id"),
    Index("ix_pod_allocation_state", "allocation_state"),
    Index("ix_pod_name", "name"),
)

cluster = Table(
    "cluster",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("pod_id", BigId, ForeignKey("pod.id"), nullable=False),
    Column("hypervisor_type", String(32), nullable=False),  # CloudStack spelling: KVM, VMware, XenServer, ...
    Column("cluster_type", String(32), nullable=False, default="CloudManaged"),
    Column("allocation_state", String(32), nullable=False, default="Enabled"),
    Column("managed_state", String(32), nullable=False, default="Managed"),
    Column("url", String(1024), nullable=True),  # vCenter datacenter/cluster path for VMware
    created_column(),
    removed_column(),
    # Over-provisioning factors live in ``configuration`` rows scoped to the cluster.
    Index("ix_cluster_zone_id", "zone_id"),
    Index("ix_cluster_pod_id_name", "pod_id", "name", unique=True, **live_only()),
    Index("ix_cluster_pod_id", "pod_id"),
    Index("ix_cluster_allocation_state", "allocation_state"),
    Index("ix_cluster_cluster_type", "cluster_type"),
    Index("ix_cluster_managed_state", "managed_state"),
    Index("ix_cluster_name", "name"),
    Index("ix_cluster_hypervisor_type", "hypervisor_type"),
)
