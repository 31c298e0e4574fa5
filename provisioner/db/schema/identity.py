"""Identity tables: domains, accounts, users, roles and their rules, API sessions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from provisioner.db.schema.base import (
    BigId,
    created_column,
    id_column,
    live_only,
    metadata,
    removed_column,
    utcnow,
    uuid_column,
)

domain = Table(
    "domain",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("parent_id", BigId, ForeignKey("domain.id"), nullable=True),
    # "/" for ROOT, "/sub/child/" below: a LIKE 'prefix%' on this indexed column selects a subtree.
    Column("path", String(1024), nullable=False),
    Column("level", Integer, nullable=False, default=0),
    Column("state", String(32), nullable=False, default="Active"),
    Column("network_domain", String(255), nullable=True),
    created_column(),
    removed_column(),
    # text_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%' whatever the collation.
    Index("ix_domain_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    # Live rows only: soft-deleted domains, accounts and users free their names for reuse.
    Index("uq_domain_live_path", "path", unique=True, **live_only()),
    Index("ix_domain_parent_id", "parent_id"),
)

role = Table(
    "role",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("role_type", String(32), nullable=False),
    Column("description", Text, nullable=True),
    Column("is_public", Boolean, nullable=False, default=True),
    Column("is_default", Boolean, nullable=False, default=False),
    created_column(),
    removed_column(),
)

role_permission = Table(
    "role_permission",
    metadata,
    id_column(),
    uuid_column(),
    Column("role_id", BigId, ForeignKey("role.id", ondelete="CASCADE"), nullable=False),
    Column("rule", String(255), nullable=False),
    Column("permission", String(8), nullable=False),  # "allow" | "deny"
    Column("description", Text, nullable=True),
    Column("sort_order", Integer, nullable=False, default=0),
    Index("ix_role_permission_role_id_sort_order", "role_id", "sort_order"),
)

account = Table(
    "account",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("type", Integer, nullable=False),  # 0 user, 1 root admin, 2 domain admin, 3 resource admin
    Column("role_id", BigId, ForeignKey("role.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("state", String(32), nullable=False, default="enabled"),
    Column("network_domain", String(255), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_account_domain_id_name", "domain_id", "name", unique=True, **live_only()),
    Index("ix_account_name", "name"),
)

#: Explicit resource limits (``updateResourceLimit``) of one account or one domain; without a row the
#: ``max.account.*`` / ``max.domain.*`` settings apply. ``type`` is CloudStack's ``Resource.ResourceType``
#: ordinal (0 user_vm ... 11 secondary_storage); ``max`` is -1 for unlimited (storage types in GiB).
resource_limit = Table(
    "resource_limit",
    metadata,
    id_column(),
    Column("type", Integer, nullable=False),
    Column("account_id", BigId, ForeignKey("account.id", ondelete="CASCADE"), nullable=True),
    Column("domain_id", BigId, ForeignKey("domain.id", ondelete="CASCADE"), nullable=True),
    Column("max", BigInteger, nullable=False),
    Index("ix_resource_limit_account_id_type", "account_id", "type", unique=True),
    Index("ix_resource_limit_domain_id_type", "domain_id", "type", unique=True),
)

user = Table(
    "user",
    metadata,
    id_column(),
    uuid_column(),
    Column("username", String(255), nullable=False),
    Column("password", String(255), nullable=False),  # crypto.hash_password format, never clear text
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    # Copied from the account so "username unique per domain" is one index.
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("api_key", String(255), nullable=True),
    Column("secret_key", Text, nullable=True),  # encrypted with the server key
    Column("state", String(32), nullable=False, default="enabled"),
    Column("firstname", String(255), nullable=False, default=""),
    Column("lastname", String(255), nullable=False, default=""),
    Column("email", String(255), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("is_default", Boolean, nullable=False, default=False),
    created_column(),
    removed_column(),
    Index("ix_user_api_key", "api_key", unique=True),
    Index("ix_user_domain_id_username", "domain_id", "username", unique=True, **live_only()),
    Index("ix_user_account_id", "account_id"),
)

api_session = Table(
    "api_session",
    metadata,
    id_column(),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the session key
    Column("user_id", BigId, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("created", DateTime(), nullable=False, default=utcnow),
    Column("last_used", DateTime(), nullable=False, default=utcnow),
    Column("expires", DateTime(), nullable=False),
    Index("ix_api_session_expires", "expires"),
)
