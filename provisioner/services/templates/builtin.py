"""The builtin template CloudStack's simulator ships, so suites written against the simulator run unchanged.

``CentOS 5.6 (64-bit) no GUI (Simulator)`` (type BUILTIN, featured, public, cross-zone, hypervisor
Simulator): it lands on every simulated image store and is Ready there at once; real stores never
get it (its URL is not meant to be fetched). Its UUID is derived from its name, so it is the same
on every installation.
"""

from __future__ import annotations

import uuid as uuidlib

from sqlalchemy import Connection, insert, select

from provisioner.db.schema import account, domain, os_type, vm_template
from provisioner.services.templates.settings import seed_template_settings

_NAMESPACE = uuidlib.UUID("5b0f5f8e-6a8e-4f38-9a43-2c1f0f7d9b11")

SIMULATOR_OS_TYPES = ("CentOS 5.6 (64-bit)", "CentOS 5.5 (64-bit)", "CentOS 5.3 (64-bit)")
SIMULATOR_TEMPLATE: dict[str, object] = {
    "name": "CentOS 5.6 (64-bit) no GUI (Simulator)",
    "url": "http://download.cloudstack.org/templates/builtin/f59f18fb-ae94-4f97-afd2-f84755767aca.vhd.bz2",
    "format": "VHD",
    "size": 2 << 30,
}


def builtin_uuid(name: str) -> str:
    """The fixed UUID of a seeded template."""
    return str(uuidlib.uuid5(_NAMESPACE, name))


def seed_templates(conn: Connection) -> int:
    """Add the builtin simulator template (and the area's settings) when missing; returns templates added."""
    seed_template_settings(conn)
    uuid = builtin_uuid(str(SIMULATOR_TEMPLATE["name"]))
    if conn.execute(select(vm_template.c.id).where(vm_template.c.uuid == uuid)).first() is not None:
        return 0
    owner = conn.execute(
        select(account.c.id, account.c.domain_id)
        .join(domain, domain.c.id == account.c.domain_id)
        .where(account.c.type == 1, domain.c.path == "/", account.c.removed.is_(None))
        .order_by(account.c.id)
        .limit(1)
    ).first()
    if owner is None:
        return 0  # identity not seeded yet: the next round adds it
    os_id = None
    for description in SIMULATOR_OS_TYPES:
        os_id = conn.execute(select(os_type.c.id).where(os_type.c.description == description)).scalar()
        if os_id is not None:
            break
    conn.execute(
        insert(vm_template).values(
            uuid=uuid,
            name=SIMULATOR_TEMPLATE["name"],
            display_text=SIMULATOR_TEMPLATE["name"],
            format=SIMULATOR_TEMPLATE["format"],
            type="BUILTIN",
            hypervisor_type="Simulator",
            url=SIMULATOR_TEMPLATE["url"],
            state="Active",
            is_public=True,
            featured=True,
            extractable=True,
            bootable=True,
            cross_zones=True,
            requires_hvm=False,
            os_type_id=os_id,
            size=SIMULATOR_TEMPLATE["size"],
            physical_size=SIMULATOR_TEMPLATE["size"],
            details={},
            account_id=owner[0],
            domain_id=owner[1],
        )
    )
    return 1
