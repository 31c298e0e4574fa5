"""Volume snapshots and VM snapshots."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

snapshot = Table(
    "snapshots",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("volume_id", BigId, ForeignKey("volume.id"), nullable=False),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("snapshot_type", String(16), nullable=False, default="MANUAL"),  # MANUAL | HOURLY | DAILY | ...
    Column("interval_type", String(16), nullable=False, default="MANUAL"),
    # Allocated | Creating | CreatedOnPrimary | BackingUp | BackedUp | Destroying | Destroyed | Error
    Column("state", String(32), nullable=False, default="Allocated"),
    Column("location_type", String(16), nullable=False, default="PRIMARY"),  # PRIMARY | SECONDARY
    Column("path", String(1024), nullable=True),
    Column("size", BigInteger, nullable=False, default=0),  # virtual size of the volume, bytes
    Column("physical_size", BigInteger, nullable=False, default=0),
    Column("hypervisor_type", String(32), nullable=True),
    Column("update_count", BigInteger, nullable=False, default=0),
    created_column(),
    removed_column(),
    Index("ix_snapshots_volume_id", "volume_id"),
    Index("ix_snapshots_account_id", "account_id"),
    Index("ix_snapshots_state", "state"),
)

vm_snapshot = Table(
    "vm_snapshots",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),  # i-2-3-VM_VS_20261123120000, as CloudStack names them
    Column("display_name", String(255), nullable=True),
    Column("description", String(4096), nullable=True),
    Column("vm_id", BigId, ForeignKey("vm_instance.id"), nullable=False),
    Column("type", String(32), nullable=False, default="Disk"),  # Disk | DiskAndMemory
    # Allocated | Creating | Ready | Reverting | Expunging | Error
    Column("state", String(32), nullable=False, default="Allocated"),
    Column("current", Boolean, nullable=False, default=False),
    Column("parent_id", BigId, ForeignKey("vm_snapshots.id"), nullable=True),
    Column("service_offering_id", BigId, ForeignKey("service_offering.id"), nullable=True),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("update_count", BigInteger, nullable=False, default=0),
    created_column(),
    removed_column(),
    Index("ix_vm_snapshots_vm_id", "vm_id"),
    Index("ix_vm_snapshots_account_id", "account_id"),
)
