"""Service, disk and network offerings, and the guest OS catalogue."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

service_offering = Table(
    "service_offering",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("display_text", String(4096), nullable=False),
    Column("cpu_number", Integer, nullable=True),  # None for customised offerings
    Column("cpu_speed", Integer, nullable=True),  # MHz
    Column("memory", Integer, nullable=True),  # MiB, as CloudStack's ``memory`` field
    Column("storage_type", String(16), nullable=False, default="shared"),  # shared | local
    Column("provisioning_type", String(16), nullable=False, default="thin"),
    Column("offer_ha", Boolean, nullable=False, default=False),
    Column("limit_cpu_use", Boolean, nullable=False, default=False),
    Column("is_volatile", Boolean, nullable=False, default=False),
    Column("host_tags", String(1024), nullable=True),
    Column("storage_tags", String(1024), nullable=True),
    Column("deployment_planner", String(255), nullable=True),
    Column("is_system", Boolean, nullable=False, default=False),
    Column("system_vm_type", String(64), nullable=True),
    Column("root_disk_size", BigInteger, nullable=True),  # bytes
    Column("network_rate", Integer, nullable=True),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),  # None: public
    Column("state", String(16), nullable=False, default="Active"),
    Column("sort_key", Integer, nullable=False, default=0),
    created_column(),
    removed_column(),
    Index("ix_service_offering_name", "name"),
    Index("ix_service_offering_is_system", "is_system"),
    Index("ix_service_offering_system_vm_type", "system_vm_type"),
)

disk_offering = Table(
    "disk_offering",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("display_text", String(4096), nullable=False),
    Column("disk_size", BigInteger, nullable=False, default=0),  # bytes; 0 for customised offerings
    Column("is_customized", Boolean, nullable=False, default=False),
    Column("storage_type", String(16), nullable=False, default="shared"),
    Column("provisioning_type", String(16), nullable=False, default="thin"),
    Column("tags", String(1024), nullable=True),
    Column("min_iops", BigInteger, nullable=True),
    Column("max_iops", BigInteger, nullable=True),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),
    Column("display_offering", Boolean, nullable=False, default=True),
    Column("state", String(16), nullable=False, default="Active"),
    Column("sort_key", Integer, nullable=False, default=0),
    created_column(),
    removed_column(),
    Index("ix_disk_offering_name", "name"),
    Index("ix_disk_offering_storage_type", "storage_type"),
)

network_offering = Table(
    "network_offering",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("display_text", String(4096), nullable=False),
    Column("guest_ip_type", String(16), nullable=False),  # Isolated | Shared | L2
    Column("traffic_type", String(16), nullable=False, default="Guest"),
    Column("availability", String(16), nullable=False, default="Optional"),  # Required | Optional
    Column("state", String(16), nullable=False, default="Enabled"),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("is_system", Boolean, nullable=False, default=False),
    Column("specify_vlan", Boolean, nullable=False, default=False),
    Column("specify_ip_ranges", Boolean, nullable=False, default=False),
    Column("conserve_mode", Boolean, nullable=False, default=True),
    Column("egress_default_policy", Boolean, nullable=False, default=False),
    Column("for_vpc", Boolean, nullable=False, default=False),
    Column("is_persistent", Boolean, nullable=False, default=False),
    Column("network_rate", Integer, nullable=True),
    Column("tags", String(1024), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_network_offering_name", "name"),
    Index("ix_network_offering_guest_ip_type", "guest_ip_type"),
    Index("ix_network_offering_availability", "availability"),
    Index("ix_network_offering_state", "state"),
)

network_offering_service = Table(
    "network_offering_service",
    metadata,
    id_column(),
    Column("network_offering_id", BigId, ForeignKey("network_offering.id", ondelete="CASCADE"), nullable=False),
    Column("service", String(64), nullable=False),  # Dhcp, Dns, SourceNat, SecurityGroup, ...
    Column("provider", String(64), nullable=False),  # VirtualRouter, SecurityGroupProvider, ...
    Index("ix_network_offering_service_offering_service", "network_offering_id", "service", "provider", unique=True),
)

os_category = Table(
    "os_category",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Index("ix_os_category_name", "name", unique=True),
)

os_type = Table(
    "os_type",
    metadata,
    id_column(),
    uuid_column(),
    Column("category_id", BigId, ForeignKey("os_category.id"), nullable=False),
    Column("description", String(255), nullable=False),  # the display name clients match on
    Column("display_name", Text, nullable=True),
    Column("is_user_defined", Boolean, nullable=False, default=False),
    Column("for_display", Boolean, nullable=False, default=True),
    created_column(),
    removed_column(),
    Index("ix_os_type_description", "description"),
    Index("ix_os_type_category_id", "category_id"),
)
