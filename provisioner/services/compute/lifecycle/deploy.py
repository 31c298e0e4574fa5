"""``deployVirtualMachine``'s create step: resolve the request and allocate the VM row (Stopped).

The create step runs in the API request, in one transaction: the VM, its volumes, its NICs with their
IP and MAC addresses, its affinity and instance groups are written together by
:func:`~provisioner.services.compute.vms.allocate_vm` (``start=False``), and the VM's id goes back to the
client at once. The job then places and starts it (:mod:`.power`); a 533 arises there, as in CloudStack.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from provisioner.db.schema import (
    account,
    affinity_group,
    cluster,
    disk_offering,
    domain,
    host,
    instance_group,
    instance_group_vm_map,
    new_uuid,
    pod,
    service_offering,
    vm_instance,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import row_by_uuid
from provisioner.services.compute.lifecycle import networks
from provisioner.services.compute.lifecycle.keys import keypair_names
from provisioner.services.compute.lifecycle.placement import Hints
from provisioner.services.compute.settings import check_planner
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from provisioner.services.identity.resource_limits import check_resource_limits
from provisioner.services.identity.visibility import can_manage_domain
from provisioner.services.principal import Caller
from provisioner.services.templates.deploy import template_for_deploy

GIB = 1 << 30
#: RFC 1123 host name label, as CloudStack's ``NetUtils.verifyDomainNameLabel`` checks it.
_HOSTNAME = re.compile(r"^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
#: CloudStack's limit on base64 user data sent with GET (``vm.userdata.max.length`` default).
MAX_USERDATA = 32768


@dataclass(frozen=True, slots=True)
class Owner:
    """The account a VM is deployed for."""

    id: int
    domain_id: int
    name: str


def owner_of(conn: Connection, caller: Caller, account_name: str | None, domain_uuid: str | None) -> Owner:
    """The caller's account, or ``account``+``domainid`` when an administrator of that domain names them.

    Raises:
        ParamError: the account or domain does not exist, or only one of the two was given (431).
        PermissionDeniedError: the caller does not administer that domain (531).
    """
    if account_name and domain_uuid:
        row = conn.execute(
            select(account.c.id, account.c.domain_id, account.c.name, domain.c.path)
            .join(domain, domain.c.id == account.c.domain_id)
            .where(domain.c.uuid == domain_uuid.lower(), account.c.name == account_name, account.c.removed.is_(None))
        ).first()
        if row is None:
            raise ParamError(f"Unable to find account {account_name} in domain {domain_uuid}")
        if row.name != caller.account_name and not can_manage_domain(caller, row.path):
            raise PermissionDeniedError(
                f"Account {caller.account_name} does not have permission to deploy for account {account_name}"
            )
        return Owner(row.id, row.domain_id, row.name)
    if account_name or domain_uuid:
        if domain_uuid and not account_name:
            raise ParamError("domainid is given without account; pass both to deploy for another account")
        raise ParamError("account is given without domainid; pass both to deploy for another account")
    row = conn.execute(_CALLERS_ACCOUNT, {"uuid": caller.account_id}).one()
    return Owner(row.id, row.domain_id, caller.account_name)


#: Built once: every deployment by an account for itself runs it.
_CALLERS_ACCOUNT = select(account.c.id, account.c.domain_id).where(account.c.uuid == bindparam("uuid"))


def check_hostname(name: str) -> str:
    """A VM name must be a host name label (letters, digits, hyphens; begins with a letter; ≤ 63).

    Raises:
        ParamError: it is not (431, CloudStack's wording).
    """
    if not _HOSTNAME.match(name):
        raise ParamError(
            f"Invalid name {name!r}: VM names may contain ASCII letters 'a' through 'z', digits '0' through '9' "
            "and hyphens, must be between 1 and 63 characters long, and can't start or end with '-' or a digit"
        )
    return name


def check_userdata(value: str | None) -> str | None:
    """User data must be base64 (as CloudStack receives it) and at most :data:`MAX_USERDATA` characters.

    Raises:
        ParamError: it is not (431).
    """
    if value is None or value == "":
        return None
    if len(value) > MAX_USERDATA:
        raise ParamError(f"User data is too long: {len(value)} characters, at most {MAX_USERDATA} are allowed")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ParamError("User data is not base64 encoded; encode it with base64 before sending") from None
    return value


#: Built once: every deployment runs it.
_NAME_TAKEN = select(vm_instance.c.uuid).where(
    vm_instance.c.account_id == bindparam("account"),
    vm_instance.c.zone_id == bindparam("zone"),
    vm_instance.c.name == bindparam("name"),
    vm_instance.c.removed.is_(None),
)


def _unique_name(conn: Connection, owner: Owner, zone_id: int, name: str) -> None:
    taken = conn.execute(_NAME_TAKEN, {"account": owner.id, "zone": zone_id, "name": name}).first()
    if taken is not None:
        raise ParamError(f"A virtual machine with name {name} already exists for account {owner.name} in this zone")


def _affinity_ids(conn: Connection, owner: Owner, ids: Sequence[str], names: Sequence[str]) -> tuple[int, ...]:
    if ids and names:
        raise ParamError("affinitygroupids and affinitygroupnames cannot be given together; pass one of them")
    found: list[int] = []
    for uuid in ids:
        row = row_by_uuid(conn, affinity_group, uuid, "affinity group")
        found.append(int(row.id))
    for name in names:
        gid = conn.execute(
            select(affinity_group.c.id).where(affinity_group.c.account_id == owner.id, affinity_group.c.name == name)
        ).scalar()
        if gid is None:
            raise ParamError(f"Unable to find affinity group by name {name} for account {owner.name}")
        found.append(int(gid))
    return tuple(dict.fromkeys(found))


def join_group(conn: Connection, owner: Owner, vm_id: int, name: str) -> None:
    """Put the VM in the owner's instance group ``name``, creating the group as CloudStack does on deploy."""
    gid = conn.execute(
        select(instance_group.c.id).where(
            instance_group.c.account_id == owner.id, instance_group.c.name == name, instance_group.c.removed.is_(None)
        )
    ).scalar()
    if gid is None:
        gid = conn.execute(
            insert(instance_group).values(name=name, account_id=owner.id, domain_id=owner.domain_id)
        ).inserted_primary_key[0]  # type: ignore[index]
    conn.execute(insert(instance_group_vm_map).values(group_id=gid, vm_id=vm_id))


def _nic_requests(
    conn: Connection, caller: Caller, owner: Owner, zone_row: Any, p: Mapping[str, Any]
) -> tuple[NicRequest, ...]:
    """One NIC per network of ``iptonetworklist`` and ``networkids`` (in that order), else the default network."""
    network_ids: Sequence[str] = p.get("networkids") or ()
    ip_address: str | None = p.get("ipaddress")
    ip_to_network: Sequence[Mapping[str, str]] = p.get("iptonetworklist") or ()
    wanted: dict[str, str | None] = {}
    for entry in ip_to_network:
        if entry.get("networkid"):
            wanted[entry["networkid"].lower()] = entry.get("ip") or None
    for uuid in network_ids:
        wanted.setdefault(uuid.lower(), None)
    if not wanted:
        network_id = networks.default_network(conn, owner, zone_row)
        return (NicRequest(network_id, ip_address),)
    requests = []
    for index, (uuid, address) in enumerate(wanted.items()):
        row = networks.usable_network(conn, caller, owner, zone_row.id, uuid)
        requests.append(NicRequest(int(row.id), address or (ip_address if index == 0 else None), network=row))
    return tuple(requests)


def _data_disk(conn: Connection, uuid: str | None, size_gib: int | None) -> tuple[int | None, int | None]:
    if not uuid:
        return None, None
    row = row_by_uuid(conn, disk_offering, uuid, "disk offering")
    return int(row.id), (size_gib * GIB if size_gib else None)


def placement_hints(conn: Connection, caller: Caller, zone_id: int, p: Mapping[str, Any]) -> Hints:
    """``podid``, ``clusterid`` and ``deploymentplanner`` of a deployment, resolved and checked (root admins only).

    Raises:
        PermissionDeniedError: a caller who is not a root admin named one (531).
        ParamError: an unknown pod, cluster or planner, or one outside the VM's zone (431).
    """
    given = [name for name in ("podid", "clusterid", "deploymentplanner") if p.get(name)]
    if not given:
        return Hints()
    if not caller.is_root_admin:
        raise PermissionDeniedError(f"Only root administrators may choose where a VM is deployed ({', '.join(given)})")
    pod_id = cluster_id = None
    if p.get("podid"):
        found = row_by_uuid(conn, pod, p["podid"], "pod")
        if found.zone_id != zone_id:
            raise ParamError(f"Pod {found.name} is not in the zone the VM is deployed in")
        pod_id = int(found.id)
    if p.get("clusterid"):
        found = row_by_uuid(conn, cluster, p["clusterid"], "cluster")
        if found.zone_id != zone_id or (pod_id is not None and found.pod_id != pod_id):
            raise ParamError(f"Cluster {found.name} is not in the zone (or pod) the VM is deployed in")
        cluster_id = int(found.id)
    planner = check_planner(p["deploymentplanner"]) if p.get("deploymentplanner") else None
    return Hints(pod_id=pod_id, cluster_id=cluster_id, planner=planner)


def _check_limits(conn: Connection, owner: Owner, offering: Any, spec: VmSpec, data_offering_id: int | None) -> None:
    """CloudStack's deploy checks: the VM count, its cores and memory, its volumes and their bytes (535)."""
    data_size = spec.data_disk_size
    if data_offering_id is not None and not data_size:
        data_size = conn.execute(
            select(disk_offering.c.disk_size).where(disk_offering.c.id == data_offering_id)
        ).scalar_one()
    check_resource_limits(
        conn,
        owner.id,
        {
            "user_vm": 1,
            "cpu": spec.cpu_number or offering.cpu_number or 0,
            "memory": spec.memory or offering.memory or 0,
            "volume": 2 if data_offering_id is not None else 1,
            "primary_storage": (spec.root_size or 0) + (data_size or 0),
        },
    )


def create_vm(conn: Connection, caller: Caller, p: Mapping[str, Any]) -> str:
    """The create step: allocate the VM in Stopped with its volumes, NICs, addresses and groups; return its id.

    ``p`` holds ``deployVirtualMachine``'s parameters by their wire names.

    Raises:
        ParamError: an unknown or unusable zone, offering, template, network, key pair, group or address (431).
        PermissionDeniedError: the caller may not use something it named (531).
    """
    owner = owner_of(conn, caller, p.get("account"), p.get("domainid"))
    zone_row = row_by_uuid(conn, zone, p["zoneid"], "zone")
    offering = row_by_uuid(conn, service_offering, p["serviceofferingid"], "service offering")
    if offering.is_system:
        raise ParamError(f"Service offering {offering.name} is a system offering; pick a user offering")
    template = template_for_deploy(conn, caller, p["templateid"], zone_row.id)
    if template.is_iso:
        raise ParamError(f"{template.name} is an ISO; deploy from a template (ISO boot is not supported yet)")
    details = {str(k): str(v) for k, v in (p.get("details") or {}).items()}
    root_gib = p.get("rootdisksize") or (int(details["rootdisksize"]) if details.get("rootdisksize") else None)
    root_size = root_gib * GIB if root_gib else (offering.root_disk_size or template.size)
    if root_size and template.size and root_size < template.size:
        raise ParamError(
            f"Root disk size {root_size} bytes is smaller than template {template.name} ({template.size} bytes)"
        )
    display = p.get("displayname")
    name = p.get("name") or (display if display and _HOSTNAME.match(display) else None)
    host_id = None
    if p.get("hostid"):
        if not caller.is_root_admin:
            raise PermissionDeniedError("Only root administrators may deploy a VM on a chosen host (hostid)")
        host_id = int(row_by_uuid(conn, host, p["hostid"], "host").id)
    placement_hints(conn, caller, zone_row.id, p)  # checked now, so the create step answers a mistake
    data_offering_id, data_size = _data_disk(conn, p.get("diskofferingid"), p.get("size"))
    vm_uuid = new_uuid()
    if name:
        check_hostname(name)
        _unique_name(conn, owner, zone_row.id, name)
    else:
        # CloudStack names an unnamed VM after its uuid (``VM-<uuid>``).
        name = f"VM-{vm_uuid}"
        display = display or name
    spec = VmSpec(
        uuid=vm_uuid,
        name=name,
        zone_id=zone_row.id,
        service_offering_id=offering.id,
        account_id=owner.id,
        domain_id=owner.domain_id,
        display_name=display,
        template_id=template.id,
        hypervisor=p.get("hypervisor") or template.hypervisor_type,
        cpu_number=int(details["cpuNumber"]) if details.get("cpuNumber") else None,
        cpu_speed=int(details["cpuSpeed"]) if details.get("cpuSpeed") else None,
        memory=int(details["memory"]) if details.get("memory") else None,
        root_size=root_size,
        data_disk_offering_id=data_offering_id,
        data_disk_size=data_size,
        nics=_nic_requests(conn, caller, owner, zone_row, p),
        affinity_group_ids=_affinity_ids(
            conn, owner, p.get("affinitygroupids") or (), p.get("affinitygroupnames") or ()
        ),
        host_id=host_id,
        start=False,
        details=details,
        user_data=check_userdata(p.get("userdata")),
        keypair=keypair_names(conn, owner.id, p.get("keypair"), p.get("keypairs")),
        is_root_admin=caller.is_root_admin,
    )
    _check_limits(conn, owner, offering, spec, data_offering_id)
    allocated = allocate_vm(conn, spec, offering=offering)
    if p.get("group"):
        join_group(conn, owner, allocated.id, p["group"])
    return allocated.uuid
