"""Templates and ISOs, and where their copies live: per zone, per image store, per primary pool.

One ``vm_template`` row is a template or an ISO (``format = 'ISO'``), as in CloudStack. Its copies
are tracked where they are made:

- ``template_zone_ref``: the zones the template is registered for (every zone, including zones added
  later, when ``cross_zones`` is set);
- ``template_store_ref``: one row per (template, image store) with the download / replication state
  ``listTemplates`` shows (``status``, ``isready``, ``downloaddetails``);
- ``template_pool_ref``: the base image copied to a primary pool on first use, with the number of
  volumes built on it, so the base is removed only when unused.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

vm_template = Table(
    "vm_template",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("display_text", String(4096), nullable=True),
    Column("format", String(16), nullable=False),  # QCOW2 | RAW | VHD | OVA | VHDX | ISO
    Column("type", String(16), nullable=False, default="USER"),  # USER | BUILTIN | SYSTEM | ROUTING
    Column("hypervisor_type", String(32), nullable=True),  # None for ISOs
    Column("url", String(2048), nullable=True),  # the origin (None for createTemplate from a volume)
    Column("checksum", String(255), nullable=True),  # as given: {SHA256}hex, {MD5}hex or bare hex
    Column("state", String(16), nullable=False, default="Active"),  # Active | Inactive
    Column("is_public", Boolean, nullable=False, default=False),
    Column("featured", Boolean, nullable=False, default=False),
    Column("extractable", Boolean, nullable=False, default=False),
    Column("bootable", Boolean, nullable=False, default=True),
    Column("cross_zones", Boolean, nullable=False, default=False),
    Column("password_enabled", Boolean, nullable=False, default=False),
    Column("sshkey_enabled", Boolean, nullable=False, default=False),
    Column("dynamically_scalable", Boolean, nullable=False, default=False),
    Column("requires_hvm", Boolean, nullable=False, default=True),
    Column("os_type_id", BigId, ForeignKey("os_type.id"), nullable=True),
    Column("source_volume_id", BigId, nullable=True),  # createTemplate from a volume
    Column("source_snapshot_id", BigId, nullable=True),  # createTemplate from a snapshot
    Column("size", BigInteger, nullable=True),  # virtual size in bytes, once known
    Column("physical_size", BigInteger, nullable=True),
    Column("details", JSON, nullable=False, default=dict),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("update_count", BigInteger, nullable=False, default=0),
    created_column(),
    removed_column(),
    Index("ix_vm_template_account_id", "account_id"),
    Index("ix_vm_template_domain_id", "domain_id"),
    Index("ix_vm_template_name", "name"),
    Index("ix_vm_template_format", "format"),
    Index("ix_vm_template_removed", "removed"),
)

#: Accounts a private template is shared with (``updateTemplatePermissions``).
template_permission = Table(
    "template_permission",
    metadata,
    id_column(),
    Column("template_id", BigId, ForeignKey("vm_template.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", BigId, ForeignKey("account.id", ondelete="CASCADE"), nullable=False),
    Index("ix_template_permission_template_account", "template_id", "account_id", unique=True),
    Index("ix_template_permission_account_id", "account_id"),
)

template_zone_ref = Table(
    "template_zone_ref",
    metadata,
    id_column(),
    Column("template_id", BigId, ForeignKey("vm_template.id", ondelete="CASCADE"), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    created_column(),
    removed_column(),
    Index("ix_template_zone_ref_template_zone", "template_id", "zone_id"),
    Index("ix_template_zone_ref_zone_id", "zone_id"),
)

template_store_ref = Table(
    "template_store_ref",
    metadata,
    id_column(),
    Column("template_id", BigId, ForeignKey("vm_template.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", BigId, ForeignKey("image_store.id"), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=True),
    # Allocated | Creating | Ready | Destroying | Destroyed | Failed (ObjectInDataStoreStateMachine)
    Column("state", String(32), nullable=False, default="Allocated"),
    # NOT_DOWNLOADED | DOWNLOAD_IN_PROGRESS | DOWNLOADED | DOWNLOAD_ERROR | ABANDONED | UPLOADED ...
    Column("download_state", String(32), nullable=False, default="NOT_DOWNLOADED"),
    Column("download_pct", Integer, nullable=False, default=0),
    Column("error_str", Text, nullable=True),
    Column("install_path", String(1024), nullable=True),
    Column("source_store_id", BigId, ForeignKey("image_store.id"), nullable=True),  # replicated from
    Column("size", BigInteger, nullable=True),
    Column("physical_size", BigInteger, nullable=True),
    Column("checksum", String(255), nullable=True),  # computed while copying, "{SHA256}hex"
    # The engine's XXH3-128 of the same bytes, "{XXH3}hex": what replicas of this copy are verified against.
    Column("engine_checksum", String(64), nullable=True),
    # Which management server works on it and until when: a dead server's work is picked up again.
    Column("lease_owner", BigInteger, nullable=True),
    Column("lease_until", DateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("update_count", BigInteger, nullable=False, default=0),
    Column("last_updated", DateTime(), nullable=True),
    created_column(),
    Index("ix_template_store_ref_template_store", "template_id", "store_id", unique=True),
    Index("ix_template_store_ref_store_id", "store_id"),
    Index("ix_template_store_ref_state", "state"),
)

template_pool_ref = Table(
    "template_pool_ref",
    metadata,
    id_column(),
    Column("template_id", BigId, ForeignKey("vm_template.id"), nullable=False),
    Column("pool_id", BigId, ForeignKey("storage_pool.id"), nullable=False),
    Column("state", String(32), nullable=False, default="Allocated"),  # Allocated | Creating | Ready | Failed
    Column("install_path", String(1024), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("ref_count", Integer, nullable=False, default=0),  # volumes whose base image this is
    Column("error_str", Text, nullable=True),
    Column("update_count", BigInteger, nullable=False, default=0),
    Column("last_updated", DateTime(), nullable=True),
    created_column(),
    Index("ix_template_pool_ref_template_pool", "template_id", "pool_id", unique=True),
    Index("ix_template_pool_ref_pool_id", "pool_id"),
)

#: The ISO in a VM's CD-ROM drive (``attachIso`` / ``detachIso``): at most one per VM.
vm_iso = Table(
    "vm_iso",
    metadata,
    id_column(),
    Column("vm_id", BigId, ForeignKey("vm_instance.id", ondelete="CASCADE"), nullable=False),
    Column("template_id", BigId, ForeignKey("vm_template.id"), nullable=False),
    created_column(),
    Index("ix_vm_iso_vm_id", "vm_id", unique=True),
    Index("ix_vm_iso_template_id", "template_id"),
)

# ``extractTemplate`` / ``extractIso`` links: the management server serves the store's copy at
# ``/client/extract/<token>/<file name>`` until ``expires``. Only the SHA-256 of the token is stored.
template_extract = Table(
    "template_extract",
    metadata,
    id_column(),
    Column("token_hash", String(64), nullable=False),
    Column("template_id", BigId, ForeignKey("vm_template.id", ondelete="CASCADE"), nullable=False),
    Column("store_ref_id", BigId, ForeignKey("template_store_ref.id", ondelete="CASCADE"), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("expires", DateTime(), nullable=False),
    created_column(),
    Index("ix_template_extract_token_hash", "token_hash", unique=True),
    Index("ix_template_extract_expires", "expires"),
)
