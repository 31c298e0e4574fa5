"""First-start infrastructure data: the local region, stock offerings, guest OS types, hypervisor limits.

Every seeded row gets a UUID derived from its name, so it is the same on every installation and
scripts may refer to it; seeding again only adds what is missing.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from provisioner.db.schema import (
    disk_offering,
    hypervisor_capability,
    network_offering,
    os_category,
    os_type,
    region,
    service_offering,
)
from provisioner.services.infrastructure.network_offerings import insert_network_offering
from provisioner.services.infrastructure.service_offerings import GIB

_NAMESPACE = uuidlib.UUID("0c8e5b7a-3f4d-4e2a-9b61-7d2f1c9a8e55")

SERVICE_OFFERINGS: tuple[dict[str, Any], ...] = (
    {"name": "Small Instance", "display_text": "Small Instance", "cpu_number": 1, "cpu_speed": 500, "memory": 512},
    {"name": "Medium Instance", "display_text": "Medium Instance", "cpu_number": 1, "cpu_speed": 1000, "memory": 1024},
    {
        "name": "System Offering For Software Router",
        "display_text": "System Offering For Software Router",
        "cpu_number": 1,
        "cpu_speed": 500,
        "memory": 256,
        "is_system": True,
        "system_vm_type": "domainrouter",
        "offer_ha": True,
    },
    {
        "name": "System Offering For Console Proxy",
        "display_text": "System Offering For Console Proxy",
        "cpu_number": 1,
        "cpu_speed": 500,
        "memory": 1024,
        "is_system": True,
        "system_vm_type": "consoleproxy",
    },
    {
        "name": "System Offering For Secondary Storage VM",
        "display_text": "System Offering For Secondary Storage VM",
        "cpu_number": 1,
        "cpu_speed": 500,
        "memory": 512,
        "is_system": True,
        "system_vm_type": "secondarystoragevm",
    },
)

DISK_OFFERINGS: tuple[dict[str, Any], ...] = (
    {"name": "Small", "display_text": "Small Disk, 5 GB", "disk_size": 5 * GIB, "sort_key": 1},
    {"name": "Medium", "display_text": "Medium Disk, 20 GB", "disk_size": 20 * GIB, "sort_key": 2},
    {"name": "Large", "display_text": "Large Disk, 100 GB", "disk_size": 100 * GIB, "sort_key": 3},
    {"name": "Custom", "display_text": "Custom Disk", "disk_size": 0, "is_customized": True, "sort_key": 4},
)

_ROUTER = "VirtualRouter"
_ISOLATED_SERVICES = (
    "Dhcp",
    "Dns",
    "UserData",
    "Firewall",
    "Gateway",
    "Lb",
    "PortForwarding",
    "SourceNat",
    "StaticNat",
    "Vpn",
)
_VPC_SERVICES = (
    "Dhcp",
    "Dns",
    "UserData",
    "Gateway",
    "Lb",
    "NetworkACL",
    "PortForwarding",
    "SourceNat",
    "StaticNat",
    "Vpn",
)
#: (name, display text, guest IP type, services → provider, other columns)
NETWORK_OFFERINGS: tuple[tuple[str, str, str, dict[str, str], dict[str, Any]], ...] = (
    (
        "DefaultIsolatedNetworkOfferingWithSourceNatService",
        "Offering for Isolated networks with Source Nat service enabled",
        "Isolated",
        dict.fromkeys(_ISOLATED_SERVICES, _ROUTER),
        {"availability": "Required"},
    ),
    (
        "DefaultIsolatedNetworkOffering",
        "Offering for Isolated networks with no Source Nat service",
        "Isolated",
        dict.fromkeys(("Dhcp", "Dns", "UserData"), _ROUTER),
        {"specify_ip_ranges": True},
    ),
    (
        "DefaultSharedNetworkOffering",
        "Offering for Shared networks",
        "Shared",
        dict.fromkeys(("Dhcp", "Dns", "UserData"), _ROUTER),
        {"specify_vlan": True, "specify_ip_ranges": True},
    ),
    (
        "DefaultSharedNetworkOfferingWithSGService",
        "Offering for Shared Security group enabled networks",
        "Shared",
        {**dict.fromkeys(("Dhcp", "Dns", "UserData"), _ROUTER), "SecurityGroup": "SecurityGroupProvider"},
        {"specify_vlan": True, "specify_ip_ranges": True},
    ),
    (
        "DefaultIsolatedNetworkOfferingForVpcNetworks",
        "Offering for Isolated VPC networks with Source Nat service enabled",
        "Isolated",
        dict.fromkeys(_VPC_SERVICES, "VpcVirtualRouter"),
        {"for_vpc": True},
    ),
    ("DefaultL2NetworkOffering", "Offering for L2 networks", "L2", {}, {}),
)

OS_TYPES: dict[str, tuple[str, ...]] = {
    "CentOS": ("CentOS 5.5 (64-bit)", "CentOS 7", "CentOS 8", "CentOS Stream 9"),
    "Debian": ("Debian GNU/Linux 10 (64-bit)", "Debian GNU/Linux 11 (64-bit)", "Debian GNU/Linux 12 (64-bit)"),
    "Oracle": ("Oracle Linux 8", "Oracle Linux 9"),
    "RedHat": ("Red Hat Enterprise Linux 8", "Red Hat Enterprise Linux 9", "Rocky Linux 9", "AlmaLinux 9"),
    "SUSE": ("SUSE Linux Enterprise Server 15 (64-bit)", "openSUSE Leap 15 (64-bit)"),
    "Windows": (
        "Windows Server 2019 (64-bit)",
        "Windows Server 2022 (64-bit)",
        "Windows 10 (64-bit)",
        "Windows 11 (64-bit)",
    ),
    "Other": ("Other Linux (64-bit)", "Other Linux (32-bit)", "Other (64-bit)", "Other (32-bit)", "Other PV (64-bit)"),
    "Unix": ("FreeBSD 13 (64-bit)", "FreeBSD 14 (64-bit)"),
    "Ubuntu": ("Ubuntu 20.04 LTS", "Ubuntu 22.04 LTS", "Ubuntu 24.04 LTS"),
    "None": (),
}

#: (hypervisor, version, max guests, max data volumes, max hosts per cluster, storage motion, VM snapshots)
HYPERVISOR_CAPABILITIES: tuple[tuple[str, str, int, int, int | None, bool, bool], ...] = (
    ("KVM", "default", 50, 24, None, True, True),
    ("Simulator", "default", 50, 6, None, True, True),
    ("XenServer", "default", 50, 13, 16, True, True),
    ("VMware", "default", 128, 59, 32, True, True),
    ("Hyperv", "default", 1024, 64, None, False, False),
    ("LXC", "default", 50, 6, None, False, False),
)


def stable_uuid(kind: str, name: str) -> str:
    """The same UUID for a seeded row on every installation."""
    return str(uuidlib.uuid5(_NAMESPACE, f"{kind}:{name}"))


def _missing(conn: Connection, table: Table, uuids: list[str]) -> set[str]:
    present = set(conn.execute(select(table.c.uuid).where(table.c.uuid.in_(uuids))).scalars())
    return set(uuids) - present


def _seed_rows(conn: Connection, table: Table, kind: str, rows: tuple[dict[str, Any], ...]) -> int:
    wanted = {stable_uuid(kind, row["name"]): row for row in rows}
    missing = _missing(conn, table, list(wanted))
    for key in missing:
        conn.execute(insert(table).values(uuid=key, **wanted[key]))
    return len(missing)


def seed_infrastructure(conn: Connection) -> int:
    """Insert the seed rows that are missing; returns how many rows were added. Idempotent.

    Args:
        conn: a connection inside a transaction (the server's first-start transaction).
    """
    added = 0
    if conn.execute(select(region.c.id).where(region.c.id == 1)).first() is None:
        conn.execute(insert(region).values(id=1, name="Local", endpoint="http://localhost:8080/client/"))
        added += 1
    added += _seed_rows(conn, service_offering, "service_offering", SERVICE_OFFERINGS)
    added += _seed_rows(conn, disk_offering, "disk_offering", DISK_OFFERINGS)
    for name, text, guest_type, services, columns in NETWORK_OFFERINGS:
        key = stable_uuid("network_offering", name)
        if _missing(conn, network_offering, [key]):
            insert_network_offering(
                conn,
                name=name,
                displaytext=text,
                guestiptype=guest_type,
                services=services,
                uuid=key,
                is_default=True,
                state="Enabled",
                **columns,
            )
            added += 1
    for category, descriptions in OS_TYPES.items():
        category_key = stable_uuid("os_category", category)
        if _missing(conn, os_category, [category_key]):
            conn.execute(insert(os_category).values(uuid=category_key, name=category))
            added += 1
        category_id = conn.execute(select(os_category.c.id).where(os_category.c.uuid == category_key)).scalar_one()
        rows = tuple({"name": text, "description": text, "category_id": category_id} for text in descriptions)
        wanted = {stable_uuid("os_type", row["name"]): row for row in rows}
        for key in _missing(conn, os_type, list(wanted)):
            row = wanted[key]
            conn.execute(insert(os_type).values(uuid=key, description=row["description"], category_id=category_id))
            added += 1
    for hypervisor, version, guests, volumes, hosts, motion, snapshots in HYPERVISOR_CAPABILITIES:
        key = stable_uuid("hypervisor_capability", f"{hypervisor}:{version}")
        if _missing(conn, hypervisor_capability, [key]):
            conn.execute(
                insert(hypervisor_capability).values(
                    uuid=key,
                    hypervisor_type=hypervisor,
                    hypervisor_version=version,
                    max_guests_limit=guests,
                    max_data_volumes_limit=volumes,
                    max_hosts_per_cluster=hosts,
                    storage_motion_supported=motion,
                    vm_snapshot_enabled=snapshots,
                )
            )
            added += 1
    return added
