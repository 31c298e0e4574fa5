"""Compute persistence: VMs, volumes, NICs, guest networks and their IPs, affinity and instance groups.

Capacity is *not* kept in a table of its own. Hosts carry what placed VMs hold
(``host.cpu_allocated``/``cores_allocated``/``memory_allocated``) and pools what volumes reserve
(``storage_pool.allocated_bytes``). The allocator moves those counters with one conditional
``UPDATE … WHERE counter + n <= limit`` in the same transaction as the VM row, so they always equal
the sum over the VMs and volumes that hold capacity (see ``services/compute/capacity.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from provisioner.db.schema.base import (
    BigId,
    created_column,
    id_column,
    live_only,
    metadata,
    removed_column,
    uuid_column,
)

user_data = Table(
    "user_data",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=True),  # None for the anonymous userdata a deploy carried inline
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("data", Text, nullable=False),  # base64, as the API received it
    Column("params", String(4096), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_user_data_account_id", "account_id"),
)

vm_instance = Table(
    "vm_instance",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),  # the hostname
    Column("display_name", String(255), nullable=True),
    Column("instance_name", String(255), nullable=False),  # i-<account id>-<vm id>-VM, the hypervisor's name
    Column("type", String(32), nullable=False, default="User"),
    Column("state", String(32), nullable=False),  # VMState (§9)
    Column("power_state", String(32), nullable=False, default="PowerUnknown"),
    Column("power_state_updated", DateTime(), nullable=True),
    Column("hypervisor_type", String(32), nullable=True),
    Column("host_id", BigId, ForeignKey("host.id"), nullable=True),
    Column("last_host_id", BigId, ForeignKey("host.id"), nullable=True),
    Column("pod_id", BigId, ForeignKey("pod.id"), nullable=True),
    Column("cluster_id", BigId, ForeignKey("cluster.id"), nullable=True),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("service_offering_id", BigId, ForeignKey("service_offering.id"), nullable=False),
    Column("template_id", BigInteger, nullable=True),  # the template tables come with the template area
    Column("guest_os_id", BigId, ForeignKey("os_type.id"), nullable=True),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("user_id", BigId, ForeignKey("user.id"), nullable=True),
    Column("cpu_number", Integer, nullable=False),
    Column("cpu_speed", Integer, nullable=False),  # MHz per core
    Column("memory", Integer, nullable=False),  # MiB
    Column("details", JSON, nullable=False, default=dict),
    Column("user_data_id", BigId, ForeignKey("user_data.id"), nullable=True),
    Column("keypair", String(255), nullable=True),
    Column("ha_enabled", Boolean, nullable=False, default=False),
    Column("limit_cpu_use", Boolean, nullable=False, default=False),
    Column("display_vm", Boolean, nullable=False, default=True),
    # Bumped by every state change: a transition is ``UPDATE … WHERE state = :from AND update_count = :seen``.
    Column("update_count", BigInteger, nullable=False, default=0),
    Column("update_time", DateTime(), nullable=True),
    created_column(),
    removed_column(),
    Index("uq_vm_instance_live_instance_name", "instance_name", unique=True, **live_only()),
    Index("ix_vm_instance_account_id_removed", "account_id", "removed"),
    # The live VMs in id order: listVirtualMachines' count and OFFSET as an index-only scan (PostgreSQL).
    Index("ix_vm_instance_live_id", "id", **live_only()),
    Index("ix_vm_instance_domain_id", "domain_id"),
    Index("ix_vm_instance_state", "state"),
    Index("ix_vm_instance_host_id", "host_id"),
    Index("ix_vm_instance_last_host_id", "last_host_id"),
    Index("ix_vm_instance_zone_id", "zone_id"),
    Index("ix_vm_instance_cluster_id", "cluster_id"),
    Index("ix_vm_instance_name", "name"),
    Index("ix_vm_instance_display_name", "display_name"),
    Index("ix_vm_instance_service_offering_id", "service_offering_id"),
    Index("ix_vm_instance_template_id", "template_id"),
    Index("ix_vm_instance_removed", "removed"),
)

volume = Table(
    "volume",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("volume_type", String(16), nullable=False),  # ROOT | DATADISK | SWAP | ISO
    Column("state", String(32), nullable=False, default="Allocated"),  # Volume.State (§9)
    Column("size", BigInteger, nullable=False),  # bytes (virtual size)
    Column("pool_id", BigId, ForeignKey("storage_pool.id"), nullable=True),
    Column("last_pool_id", BigId, ForeignKey("storage_pool.id"), nullable=True),
    Column("format", String(16), nullable=False, default="QCOW2"),
    Column("path", String(1024), nullable=True),
    Column("vm_id", BigId, ForeignKey("vm_instance.id"), nullable=True),
    Column("device_id", Integer, nullable=True),
    Column("disk_offering_id", BigId, ForeignKey("disk_offering.id"), nullable=True),
    Column("template_id", BigInteger, nullable=True),
    Column("provisioning_type", String(16), nullable=False, default="thin"),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("update_count", BigInteger, nullable=False, default=0),
    Column("attached", DateTime(), nullable=True),
    created_column(),
    removed_column(),
    Index("ix_volume_vm_id", "vm_id"),
    Index("ix_volume_pool_id", "pool_id"),
    Index("ix_volume_account_id", "account_id"),
    Index("ix_volume_state", "state"),
    Index("ix_volume_zone_id", "zone_id"),
    Index("ix_volume_name", "name"),
    Index("ix_volume_removed", "removed"),
)

#: Guest networks (table ``network``); named so it does not clash with the ``schema.network`` module.
guest_network = Table(
    "network",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("display_text", String(4096), nullable=True),
    Column("zone_id", BigId, ForeignKey("zone.id"), nullable=False),
    Column("physical_network_id", BigId, ForeignKey("physical_network.id"), nullable=True),
    Column("network_offering_id", BigId, ForeignKey("network_offering.id"), nullable=True),
    Column("guest_type", String(16), nullable=False, default="Isolated"),  # Isolated | Shared | L2
    Column("traffic_type", String(16), nullable=False, default="Guest"),
    Column("acl_type", String(16), nullable=False, default="Account"),  # Account | Domain
    Column("state", String(32), nullable=False, default="Allocated"),  # Allocated, Implemented, Shutdown, Destroy
    Column("cidr", String(64), nullable=True),
    Column("gateway", String(64), nullable=True),
    Column("netmask", String(64), nullable=True),
    # The range VMs get addresses from; defaults to the CIDR's hosts (gateway excluded).
    Column("start_ip", String(64), nullable=True),
    Column("end_ip", String(64), nullable=True),
    # The IP allocator's cursor: no address of the range below this number is free (NULL: from the start).
    # Kept under the network's row lock by ``services/compute/ipam.py``; lowered whenever an address is released.
    Column("ip_free_from", BigInteger, nullable=True),
    Column("vlan", String(255), nullable=True),  # broadcast URI, e.g. vlan://100
    Column("network_domain", String(255), nullable=True),
    Column("dns1", String(64), nullable=True),
    Column("dns2", String(64), nullable=True),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=True),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=True),
    Column("is_default", Boolean, nullable=False, default=False),
    created_column(),
    removed_column(),
    Index("ix_network_zone_id", "zone_id"),
    Index("ix_network_account_id", "account_id"),
    Index("ix_network_domain_id", "domain_id"),
    Index("ix_network_name", "name"),
    Index("ix_network_state", "state"),
)

ip_address = Table(
    "ip_address",
    metadata,
    id_column(),
    Column("network_id", BigId, ForeignKey("network.id", ondelete="CASCADE"), nullable=False),
    Column("address", String(64), nullable=False),
    # The address as an integer: "first free" reads the (network_id, number) index from the network's cursor.
    Column("number", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, default="Allocated"),  # Allocated | Reserved (gateway)
    Column("vm_id", BigId, ForeignKey("vm_instance.id"), nullable=True),
    created_column(),
    # The final guard against handing one address out twice, whatever the allocator believed.
    Index("uq_ip_address_network_id_number", "network_id", "number", unique=True),
    Index("ix_ip_address_vm_id", "vm_id"),
)

nic = Table(
    "nic",
    metadata,
    id_column(),
    uuid_column(),
    Column("vm_id", BigId, ForeignKey("vm_instance.id"), nullable=False),
    Column("network_id", BigId, ForeignKey("network.id"), nullable=False),
    Column("ip_address", String(64), nullable=True),
    Column("netmask", String(64), nullable=True),
    Column("gateway", String(64), nullable=True),
    Column("mac_address", String(17), nullable=False),
    Column("broadcast_uri", String(255), nullable=True),
    Column("mode", String(16), nullable=False, default="Dhcp"),
    Column("state", String(16), nullable=False, default="Reserved"),  # Allocated | Reserved | Released
    Column("device_id", Integer, nullable=False, default=0),
    Column("is_default", Boolean, nullable=False, default=False),
    created_column(),
    removed_column(),
    Index("ix_nic_vm_id", "vm_id"),
    Index("ix_nic_network_id", "network_id"),
    Index("ix_nic_ip_address", "ip_address"),
    # A MAC is unique among live NICs; an expunged VM's NIC frees its MAC.
    Index("uq_nic_live_mac_address", "mac_address", unique=True, **live_only()),
)

affinity_group = Table(
    "affinity_group",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("type", String(64), nullable=False),  # "host anti-affinity" | "host affinity"
    Column("description", String(4096), nullable=True),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    Column("acl_type", String(16), nullable=False, default="Account"),
    created_column(),
    Index("ix_affinity_group_account_id_name", "account_id", "name", unique=True),
    Index("ix_affinity_group_domain_id", "domain_id"),
)

affinity_group_vm_map = Table(
    "affinity_group_vm_map",
    metadata,
    id_column(),
    Column("affinity_group_id", BigId, ForeignKey("affinity_group.id", ondelete="CASCADE"), nullable=False),
    Column("vm_id", BigId, ForeignKey("vm_instance.id", ondelete="CASCADE"), nullable=False),
    Index("ix_affinity_group_vm_map_group_vm", "affinity_group_id", "vm_id", unique=True),
    Index("ix_affinity_group_vm_map_vm_id", "vm_id"),
)

instance_group = Table(
    "instance_group",
    metadata,
    id_column(),
    uuid_column(),
    Column("name", String(255), nullable=False),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    created_column(),
    removed_column(),
    Index("ix_instance_group_account_id_name", "account_id", "name", unique=True, **live_only()),
)

instance_group_vm_map = Table(
    "instance_group_vm_map",
    metadata,
    id_column(),
    Column("group_id", BigId, ForeignKey("instance_group.id", ondelete="CASCADE"), nullable=False),
    # A VM is in at most one group, as in CloudStack.
    Column("vm_id", BigId, ForeignKey("vm_instance.id", ondelete="CASCADE"), nullable=False, unique=True),
    Index("ix_instance_group_vm_map_group_id", "group_id"),
)

ssh_keypair = Table(
    "ssh_keypairs",
    metadata,
    id_column(),
    uuid_column(),
    Column("keypair_name", String(255), nullable=False),
    Column("fingerprint", String(255), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("account_id", BigId, ForeignKey("account.id"), nullable=False),
    Column("domain_id", BigId, ForeignKey("domain.id"), nullable=False),
    created_column(),
    Index("ix_ssh_keypairs_account_id_keypair_name", "account_id", "keypair_name", unique=True),
    Index("ix_ssh_keypairs_domain_id", "domain_id"),
    Index("ix_ssh_keypairs_fingerprint", "fingerprint"),
)
