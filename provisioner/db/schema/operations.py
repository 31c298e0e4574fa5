"""VM operations in flight: the destination capacity a live migration holds until it ends."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Table

from provisioner.db.schema.base import BigId, created_column, id_column, metadata

# One row per VM being migrated: the destination host's share reserved before the hypervisor moves it.
# The row goes in the transaction that ends the migration; a row whose VM is no longer Migrating was left
# by a crash, and the host health round gives its reservation back (services/compute/operations/migrate.py).
vm_migration = Table(
    "vm_migration",
    metadata,
    id_column(),
    Column("vm_id", BigId, ForeignKey("vm_instance.id", ondelete="CASCADE"), nullable=False),
    Column("source_host_id", BigId, ForeignKey("host.id"), nullable=False),
    Column("dest_host_id", BigId, ForeignKey("host.id"), nullable=False),
    Column("cpu_mhz", BigInteger, nullable=False),
    Column("cores", Integer, nullable=False),
    Column("memory", BigInteger, nullable=False),  # bytes
    created_column(),
    Index("ix_vm_migration_vm_id", "vm_id", unique=True),
)
