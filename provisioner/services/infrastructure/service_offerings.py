"""Service offerings (``createServiceOffering``, ``updateServiceOffering``, ``listServiceOfferings``, delete)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import service_offering
from provisioner.exceptions import ParamError, ResourceInUseError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    get_live,
    join_csv,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.principal import Caller

GIB = 1 << 30
STORAGE_TYPES = ("shared", "local")
PROVISIONING_TYPES = ("thin", "sparse", "fat")
#: Answers whether VMs still use an offering (by UUID); the VM layer supplies it.
OfferingUsage = Callable[[str], bool]


def service_offering_row(m: RowMapping) -> Row:
    """A ``service_offering`` row as ``ServiceOfferingResponse`` (``memory`` in MiB, ``rootdisksize`` in GiB)."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displaytext": m["display_text"],
        "cpunumber": m["cpu_number"],
        "cpuspeed": m["cpu_speed"],
        "memory": m["memory"],
        "storagetype": m["storage_type"],
        "provisioningtype": m["provisioning_type"],
        "offerha": bool(m["offer_ha"]),
        "limitcpuuse": bool(m["limit_cpu_use"]),
        "isvolatile": bool(m["is_volatile"]),
        "hosttags": m["host_tags"],
        "storagetags": m["storage_tags"],
        "deploymentplanner": m["deployment_planner"],
        "issystem": bool(m["is_system"]),
        "systemvmtype": m["system_vm_type"],
        "iscustomized": m["cpu_number"] is None or m["cpu_speed"] is None or m["memory"] is None,
        "rootdisksize": m["root_disk_size"] // GIB if m["root_disk_size"] else None,
        "networkrate": m["network_rate"],
        "defaultuse": False,
        "state": m["state"],
        "created": m["created"],
    }


def _positive(value: int | None, what: str) -> int | None:
    if value is not None and value <= 0:
        raise ParamError(f"Failed to create service offering: specify a {what} greater than 0")
    return value


def create_service_offering(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    displaytext: str | None = None,
    cpunumber: int | None = None,
    cpuspeed: int | None = None,
    memory: int | None = None,
    storagetype: str = "shared",
    provisioningtype: str = "thin",
    offerha: bool = False,
    limitcpuuse: bool = False,
    isvolatile: bool = False,
    hosttags: str | Sequence[str] | None = None,
    tags: str | Sequence[str] | None = None,
    deploymentplanner: str | None = None,
    issystem: bool = False,
    systemvmtype: str | None = None,
    rootdisksize: int | None = None,
    networkrate: int | None = None,
) -> Row:
    """Create a service offering; without cpunumber/cpuspeed/memory it is a customised one.

    Args:
        conn: the connection.
        caller: must be a root admin.
        name: the offering's name.
        displaytext: shown to users (defaults to the name).
        cpunumber: vCPUs.
        cpuspeed: MHz per vCPU.
        memory: MiB.
        storagetype: shared or local.
        provisioningtype: thin, sparse or fat.
        offerha: restart VMs elsewhere when their host fails.
        limitcpuuse: cap the CPU at the offering's speed.
        isvolatile: discard the root disk on reboot.
        hosttags: hosts the offering's VMs need.
        tags: storage tags the root volume needs.
        deploymentplanner: the planner for its VMs.
        issystem: for system VMs.
        systemvmtype: domainrouter, consoleproxy or secondarystoragevm (system offerings).
        rootdisksize: GiB.
        networkrate: Mb/s.
    """
    require_root(caller, "createServiceOffering")
    new_id = conn.execute(
        insert(service_offering).values(
            name=name,
            display_text=displaytext or name,
            cpu_number=_positive(cpunumber, "CPU number"),
            cpu_speed=_positive(cpuspeed, "CPU speed"),
            memory=_positive(memory, "memory"),
            storage_type=canonical(storagetype, STORAGE_TYPES, "storage type"),
            provisioning_type=canonical(provisioningtype, PROVISIONING_TYPES, "provisioning type"),
            offer_ha=offerha,
            limit_cpu_use=limitcpuuse,
            is_volatile=isvolatile,
            host_tags=join_csv(split_csv(hosttags)),
            storage_tags=join_csv(split_csv(tags)),
            deployment_planner=deploymentplanner,
            is_system=issystem,
            system_vm_type=systemvmtype,
            root_disk_size=rootdisksize * GIB if rootdisksize else None,
            network_rate=networkrate,
        )
    ).inserted_primary_key
    assert new_id is not None
    return service_offering_row(
        conn.execute(select(service_offering).where(service_offering.c.id == new_id[0])).mappings().one()
    )


def update_service_offering(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    displaytext: str | None = None,
    sortkey: int | None = None,
    hosttags: str | Sequence[str] | None = None,
    storagetags: str | Sequence[str] | None = None,
) -> Row:
    """Change the names, order and tags of an offering (``updateServiceOffering``)."""
    require_root(caller, "updateServiceOffering")
    row = get_live(conn, service_offering, id)
    values: dict[str, Any] = {}
    for column, value in (("name", name), ("display_text", displaytext)):
        if value:
            values[column] = value
    if sortkey is not None:
        values["sort_key"] = sortkey
    if hosttags is not None:
        values["host_tags"] = join_csv(split_csv(hosttags))
    if storagetags is not None:
        values["storage_tags"] = join_csv(split_csv(storagetags))
    if values:
        conn.execute(update(service_offering).where(service_offering.c.id == row["id"]).values(**values))
    return service_offering_row(
        conn.execute(select(service_offering).where(service_offering.c.id == row["id"])).mappings().one()
    )


def list_service_offerings(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    issystem: bool | None = None,
    systemvmtype: str | None = None,
    iscustomized: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List offerings (``listServiceOfferings``); every caller sees public ones, only admins system ones."""
    table = service_offering
    conditions = common_filters(table, id=id, ids=ids, name=name, keyword=keyword)
    if issystem and not caller.is_root_admin:
        raise ParamError("Only ROOT admins can access system's offering")
    conditions.append(table.c.is_system.is_(bool(issystem)))
    if systemvmtype:
        conditions.append(table.c.system_vm_type == systemvmtype)
    if iscustomized is not None:
        custom = table.c.cpu_number.is_(None) | table.c.cpu_speed.is_(None) | table.c.memory.is_(None)
        conditions.append(custom if iscustomized else ~custom)
    rows, total = list_page(conn, select(table).where(*conditions), [table.c.sort_key, table.c.id], page, pagesize)
    return [service_offering_row(m) for m in rows], total


def delete_service_offering(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    in_use: OfferingUsage | None = None,
) -> None:
    """Remove an offering (``deleteServiceOffering``); default system offerings stay.

    Raises:
        ResourceInUseError: VMs still use it (536).
    """
    require_root(caller, "deleteServiceOffering")
    row = get_live(conn, service_offering, id)
    if row["is_system"] and row["system_vm_type"]:
        raise ParamError(f"Default service offering {row['name']} can't be deleted")
    if in_use is not None and in_use(row["uuid"]):
        raise ResourceInUseError(f"Service offering {row['name']} is in use by virtual machines")
    conn.execute(update(service_offering).where(service_offering.c.id == row["id"]).values(state="Inactive"))
    soft_delete(conn, service_offering, row["id"])
