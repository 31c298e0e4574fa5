"""Physical networks, their traffic types and providers, and VLAN/IP ranges."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table

from provisioner.db.schema.base import BigId, created_column, id_column, metadata, removed_column, uuid_column

physical_network = Table(
    "physical_network",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("vlan", String(4096), nullable=True),  # "100-199,300-310"
    Column("isolation_methods", String(255), nullable=True),  # comma-separated: VLAN, VXLAN, GRE, L3, ...
    Column("broadcast_domain_range", String(16), nullable=False, default="ZONE"),
    Column("tags", String(1024), nullable=True),
    Column("network_speed", String(32), nullable=True),
    Column("state", String(32), nullable=False, default="Disabled"),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_physical_network_zone_id", "zone_id"),
    Index("ix_physical_network_name", "name"),
)

physical_network_traffic_type = Table(
    "physical_network_traffic_type",
    metadata,
    id_column(),
    uuid_column(),
    Column("physical_network_id", BigId, ForeignKey("physical_network.id", ondelete="CASCADE"), nullable=False),
    Column("traffic_type", String(32), nullable=False),  # Guest | Management | Public | Storage
    Column("kvm_label", String(255), nullable=True),
    Column("vmware_label", String(255), nullable=True),
    Column("xen_label", String(255), nullable=True),
    Column("hyperv_label", String(255), nullable=True),
    Column("ovm3_label", String(255), nullable=True),
    Column("isolation_method", String(32), nullable=True),
    Column("vlan", String(255), nullable=True),
    created_column(),
    Index("ix_physical_network_traffic_type_pn_type", "physical_network_id", "traffic_type", unique=True),
)

network_service_provider = Table(
    "network_service_provider",
    metadata,
    id_column(),
    uuid_column(),
    Column("physical_network_id", BigId, ForeignKey("physical_network.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),  # VirtualRouter, VpcVirtualRouter, InternalLbVm, SecurityGroupProvider
    Column("state", String(32), nullable=False, default="Disabled"),
    Column("services", String(1024), nullable=False, default=""),  # comma-separated service names
    Column("destination_physical_network_id", BigId, nullable=True),
    created_column(),
    removed_column(),
    Index("ix_network_service_provider_pn_name", "physical_network_id", "name", unique=True),
    Index("ix_network_service_provider_name", "name"),
    Index("ix_network_service_provider_state", "state"),
)

virtual_router_element = Table(
    "virtual_router_element",
    metadata,
    id_column(),
    uuid_column(),
    Column("nsp_id", BigId, ForeignKey("network_service_provider.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(32), nullable=False, default="VirtualRouter"),  # VirtualRouter | VPCVirtualRouter
    Column("enabled", Boolean, nullable=False, default=False),
    created_column(),
    removed_column(),
    Index("ix_virtual_router_element_nsp_id", "nsp_id"),
)

vlan_ip_range = Table(
    "vlan_ip_range",
    metadata,
    id_column(),
    uuid_column(),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("pod_id", BigId, ForeignKey("pod.id"), nullable=True),
    Column("physical_network_id", BigId, ForeignKey("physical_network.id"), nullable=True),
    # The guest network a shared range belongs to; the network tables come with the networking area.
    Column("network_id", BigInteger, nullable=True),
    Column("vlan", String(255), nullable=False, default="untagged"),
    Column("gateway", String(64), nullable=True),
    Column("netmask", String(64), nullable=True),
    Column("start_ip", String(64), nullable=True),
    Column("end_ip", String(64), nullable=True),
    Column("ip_count", BigInteger, nullable=False, default=0),
    Column("ip6_gateway", String(64), nullable=True),
    Column("ip6_cidr", String(64), nullable=True),
    Column("for_virtual_network", Boolean, nullable=False, default=False),
    Column("for_system_vms", Boolean, nullable=False, default=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_vlan_ip_range_zone_id", "zone_id"),
    Index("ix_vlan_ip_range_pod_id", "pod_id"),
    Index("ix_vlan_ip_range_physical_network_id", "physical_network_id"),
    Index("ix_vlan_ip_range_network_id", "network_id"),
    Index("ix_vlan_ip_range_vlan", "vlan"),
    Index("ix_vlan_ip_range_for_virtual_network", "for_virtual_network"),
)
