"""Hypervisor hosts, their tags, and what each hypervisor version can do."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

host = Table(
    "host",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("type", String(32), nullable=False, default="Routing"),  # Routing, Storage, ConsoleProxy, ...
    Column("status", String(32), nullable=False, default="Creating"),  # Status.java
    Column("resource_state", String(32), nullable=False, default="Creating"),  # ResourceState.java
    Column("hypervisor_type", String(32), nullable=False),
    Column("hypervisor_version", String(64), nullable=True),
    Column("private_ip", String(64), nullable=True),
    Column("url", String(1024), nullable=False),
    Column("cpu_sockets", Integer, nullable=False, default=1),
    Column("cpu_cores", Integer, nullable=False, default=0),
    Column("cpu_speed", Integer, nullable=False, default=0),  # MHz per core
    Column("memory", BigInteger, nullable=False, default=0),  # bytes
    Column("arch", String(32), nullable=False, default="x86_64"),
    Column("capabilities", String(1024), nullable=True),  # comma-separated, as CloudStack shows them
    Column("tags", String(1024), nullable=True),  # comma-separated copy of host_tag, for display
    # What placed VMs hold; the allocator moves these in the same statement that checks the limit.
    Column("cpu_allocated", BigInteger, nullable=False, default=0),  # MHz
    Column("cores_allocated", Integer, nullable=False, default=0),
    Column("memory_allocated", BigInteger, nullable=False, default=0),  # bytes
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("pod_id", BigId, ForeignKey("pod.id"), nullable=True),
    Column("cluster_id", BigId, ForeignKey("cluster.id"), nullable=True),
    Column("last_ping", DateTime(), nullable=True),
    Column("disconnected", DateTime(), nullable=True),
    Column("mshost_id", BigInteger, nullable=True),  # msid of the management server that owns the connection
    Column("driver", String(64), nullable=False),  # compute registry name
    Column("driver_settings", JSON, nullable=False, default=dict),
    Column("username", String(255), nullable=True),
    # A credential reference (env:/file:) or a SecretBox token (enc:...); never a clear-text password.
    Column("credential", Text, nullable=True),
    created_column(),
    removed_column(),
    Index("ix_host_zone_id", "zone_id"),
    Index("ix_host_pod_id", "pod_id"),
    Index("ix_host_cluster_id", "cluster_id"),
    Index("ix_host_name", "name"),
    Index("ix_host_status", "status"),
    Index("ix_host_resource_state", "resource_state"),
    Index("ix_host_type", "type"),
    Index("ix_host_hypervisor_type", "hypervisor_type"),
    Index("ix_host_url", "url"),
    Index("ix_host_mshost_id", "mshost_id"),
)

host_tag = Table(
    "host_tag",
    metadata,
    id_column(),
    Column("host_id", BigId, ForeignKey("host.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(255), nullable=False),
    Column("is_implicit", Boolean, nullable=False, default=False),
    Index("ix_host_tag_host_id_tag", "host_id", "tag", unique=True),
    Index("ix_host_tag_tag", "tag"),
)

hypervisor_capability = Table(
    "hypervisor_capability",
    metadata,
    id_column(),
    uuid_column(),
    Column("hypervisor_type", String(32), nullable=False),
    Column("hypervisor_version", String(64), nullable=False),  # "default" when it applies to every version
    Column("max_guests_limit", Integer, nullable=False, default=50),
    Column("max_data_volumes_limit", Integer, nullable=False, default=6),
    Column("max_hosts_per_cluster", Integer, nullable=True),
    Column("security_group_enabled", Boolean, nullable=False, default=True),
    Column("storage_motion_supported", Boolean, nullable=False, default=False),
    Column("vm_snapshot_enabled", Boolean, nullable=False, default=False),
    Index("ix_hypervisor_capability_type_version", "hypervisor_type", "hypervisor_version", unique=True),
)
