"""Async jobs and the management-server nodes that run them."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, Table

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

async_job = Table(
    "async_job",
    metadata,
    id_column(),
    uuid_column(),
    Column("user_id", BigId, ForeignKey("user.id"), nullable=False),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("cmd", String(255), nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", Integer, nullable=False, default=0),  # 0 in progress, 1 succeeded, 2 failed, 3 cancelled
    Column("process_status", Integer, nullable=False, default=0),
    Column("result_code", Integer, nullable=True),
    Column("result", JSON, nullable=True),
    Column("result_type", String(16), nullable=True),  # "object" | "text"
    Column("instance_type", String(64), nullable=True),
    Column("instance_id", String(64), nullable=True),
    # Jobs with the same sync_object (e.g. "VirtualMachine:<uuid>") run one at a time, oldest first.
    Column("sync_object", String(128), nullable=True),
    Column("init_msid", BigInteger, nullable=True),
    Column("owner_msid", BigInteger, nullable=True),
    Column("lease_expires", DateTime(), nullable=True),
    created_column(),
    Column("started", DateTime(), nullable=True),
    Column("completed", DateTime(), nullable=True),
    Index("ix_async_job_status_id", "status", "id"),
    Index("ix_async_job_sync_object_status", "sync_object", "status"),
    Index("ix_async_job_owner_msid", "owner_msid"),
    Index("ix_async_job_account_id_id", "account_id", "id"),
    Index("ix_async_job_completed", "completed"),
)

mshost = Table(
    "mshost",
    metadata,
    id_column(),
    uuid_column(),
    Column("msid", BigInteger, nullable=False, unique=True),
    Column("runid", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("service_ip", String(64), nullable=False, default="127.0.0.1"),
    Column("service_port", Integer, nullable=False, default=0),
    Column("version", String(64), nullable=False),
    # Liveness comes from this heartbeat, never from "state" alone (kill -9 leaves state Up).
    Column("last_heartbeat", DateTime(), nullable=False),
    Column("state", String(32), nullable=False, default="Up"),
    created_column(),
    removed_column(),
)
