"""Primary storage pools and secondary image stores."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from provisioner.db.schema.base import (
    BigId,
    created_column,
    id_column,
    live_only,
    metadata,
    removed_column,
    uuid_column,
)

storage_pool = Table(
    "storage_pool",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    # NetworkFilesystem, IscsiLUN, PreSetup, SharedMountPoint, Filesystem (local), RBD, ...
    Column("pool_type", String(32), nullable=False),
    Column("scope", String(16), nullable=False),  # CLUSTER | ZONE | HOST
    Column("url", String(1024), nullable=False),
    Column("host_address", String(255), nullable=False, default=""),
    Column("port", Integer, nullable=False, default=0),
    Column("path", String(1024), nullable=False, default=""),
    Column("capacity_bytes", BigInteger, nullable=False, default=0),
    Column("used_bytes", BigInteger, nullable=False, default=0),
    Column("allocated_bytes", BigInteger, nullable=False, default=0),
    Column("capacity_iops", BigInteger, nullable=True),
    Column("state", String(32), nullable=False, default="Up"),  # Up | PrepareForMaintenance | Maintenance | ...
    Column("tags", String(1024), nullable=True),  # comma-separated copy of storage_pool_tag, for display
    Column("provider", String(64), nullable=False, default="DefaultPrimary"),
    Column("managed", Boolean, nullable=False, default=False),
    Column("hypervisor_type", String(32), nullable=True),  # zone-wide pools serve one hypervisor
    Column("details", JSON, nullable=False, default=dict),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("pod_id", BigId, ForeignKey("pod.id"), nullable=True),
    Column("cluster_id", BigId, ForeignKey("cluster.id"), nullable=True),
    Column("host_id", BigId, ForeignKey("host.id"), nullable=True),  # local storage only
    created_column(),
    removed_column(),
    Index("ix_storage_pool_zone_id", "zone_id"),
    Index("ix_storage_pool_pod_id", "pod_id"),
    Index("ix_storage_pool_cluster_id", "cluster_id"),
    Index("ix_storage_pool_host_id", "host_id"),
    Index("ix_storage_pool_name", "name"),
    Index("ix_storage_pool_state", "state"),
    Index("ix_storage_pool_scope", "scope"),
    Index("ix_storage_pool_host_address_path", "host_address", "path"),
    Index("ix_storage_pool_path", "path"),
)

storage_pool_tag = Table(
    "storage_pool_tag",
    metadata,
    id_column(),
    Column("pool_id", BigId, ForeignKey("storage_pool.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(255), nullable=False),
    Index("ix_storage_pool_tag_pool_id_tag", "pool_id", "tag", unique=True),
    Index("ix_storage_pool_tag_tag", "tag"),
)

image_store = Table(
    "image_store",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("url", String(1024), nullable=False),
    Column("protocol", String(32), nullable=False),  # nfs, http, https, cifs
    Column("provider", String(32), nullable=False),  # NFS, S3, Swift, SMB
    Column("scope", String(16), nullable=False, default="ZONE"),  # ZONE | REGION
    Column("role", String(16), nullable=False, default="Image"),  # Image | ImageCache
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=True),
    Column("readonly", Boolean, nullable=False, default=False),
    Column("capacity_bytes", BigInteger, nullable=False, default=0),
    Column("used_bytes", BigInteger, nullable=False, default=0),
    Column("details", JSON, nullable=False, default=dict),  # S3/Swift keys are SecretBox tokens here
    created_column(),
    removed_column(),
    Index("ix_image_store_zone_id", "zone_id"),
    Index("ix_image_store_name", "name"),
    Index("ix_image_store_provider", "provider"),
    Index("ix_image_store_protocol", "protocol"),
    Index("uq_image_store_live_url", "url", unique=True, **live_only()),
)
