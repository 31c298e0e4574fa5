"""Configuration settings (global and scoped) and resource tags."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, String, Table, Text

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, uuid_column

configuration = Table(
    "configuration",
    metadata,
    id_column(),
    Column("name", String(255), nullable=False),
    Column("value", Text, nullable=True),
    Column("category", String(64), nullable=False, default="Advanced"),
    Column("description", Text, nullable=True),
    Column("default_value", Text, nullable=True),
    # global | zone | cluster | storagepool | account | domain | imagestore
    Column("scope", String(32), nullable=False, default="global"),
    # The internal id of the scoped object; 0 for global so (name, scope, scope_id) can be unique.
    Column("scope_id", BigInteger, nullable=False, default=0),
    Column("is_dynamic", Boolean, nullable=False, default=True),
    Column("updated", DateTime(), nullable=True),
    Index("ix_configuration_name_scope_scope_id", "name", "scope", "scope_id", unique=True),
)

resource_tag = Table(
    "resource_tag",
    metadata,
    id_column(),
    uuid_column(),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_uuid", String(64), nullable=False),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=True),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),
    Column("customer", String(255), nullable=True),
    created_column(),
    Index("ix_resource_tag_resource", "resource_type", "resource_uuid", "key", unique=True),
    Index("ix_resource_tag_key_value", "key", "value"),
)
