"""Hypervisors (``listHypervisors``) and their capabilities (``listHypervisorCapabilities``)."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select

from provisioner.db.schema import cluster, hypervisor_capability, zone
from provisioner.services.common import list_page
from provisioner.services.infrastructure.clusters import hypervisor_name
from provisioner.services.infrastructure.common import Row, get_live, live, require_root
from provisioner.services.principal import Caller

#: CloudStack's ``hypervisor.list`` default: what a zone without clusters may take.
SUPPORTED = ("KVM", "VMware", "XenServer", "Hyperv", "BareMetal", "Ovm", "LXC", "Ovm3", "Simulator")


def list_hypervisors(conn: Connection, caller: Caller, *, zoneid: str | None = None) -> list[Row]:
    """``listHypervisors``: the hypervisors of a zone's clusters, or every supported one without ``zoneid``."""
    if zoneid is None:
        return [{"name": name} for name in SUPPORTED]
    zone_row = get_live(conn, zone, zoneid, "zoneid")
    names = conn.execute(
        select(cluster.c.hypervisor_type)
        .where(cluster.c.zone_id == zone_row["id"], live(cluster))
        .distinct()
        .order_by(cluster.c.hypervisor_type)
    ).scalars()
    return [{"name": name} for name in names]


def capability_row(m: RowMapping) -> Row:
    """A capability row as ``HypervisorCapabilitiesResponse``."""
    return {
        "id": m["uuid"],
        "hypervisor": m["hypervisor_type"],
        "hypervisorversion": m["hypervisor_version"],
        "maxguestslimit": m["max_guests_limit"],
        "maxdatavolumeslimit": m["max_data_volumes_limit"],
        "maxhostspercluster": m["max_hosts_per_cluster"],
        "securitygroupenabled": bool(m["security_group_enabled"]),
        "storagemotionenabled": bool(m["storage_motion_supported"]),
        "vmsnapshotenabled": bool(m["vm_snapshot_enabled"]),
    }


def list_hypervisor_capabilities(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    hypervisor: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """``listHypervisorCapabilities``, root admin only."""
    require_root(caller, "listHypervisorCapabilities")
    query = select(hypervisor_capability)
    if id:
        query = query.where(hypervisor_capability.c.uuid == id.lower())
    if hypervisor:
        query = query.where(hypervisor_capability.c.hypervisor_type == hypervisor_name(hypervisor))
    rows, total = list_page(conn, query, [hypervisor_capability.c.id], page, pagesize)
    return [capability_row(m) for m in rows], total


def max_guests(conn: Connection, hypervisor: str, version: str | None) -> int | None:
    """The guest limit of a hypervisor version (its ``default`` row when the version has none)."""
    rows = conn.execute(
        select(hypervisor_capability.c.hypervisor_version, hypervisor_capability.c.max_guests_limit).where(
            hypervisor_capability.c.hypervisor_type == hypervisor
        )
    ).tuples()
    limits: dict[str, int] = dict(rows.all())
    return limits.get(version or "default", limits.get("default"))
