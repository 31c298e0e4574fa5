"""Allocating a VM: host, volumes' pools, IPs and MACs reserved in the caller's one transaction.

No hypervisor is called here; the lifecycle with drivers builds on these rows. Use
:func:`allocate_vm` inside ``run_in_transaction`` so the reservation, the VM row, its volumes and
its NICs commit together or not at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from provisioner.compute.types import VMState
from provisioner.db.schema import (
    affinity_group,
    affinity_group_vm_map,
    disk_offering,
    new_uuid,
    service_offering,
    user_data,
    vm_instance,
    volume,
)
from provisioner.exceptions import ParamError
from provisioner.services.compute import ipam, macs
from provisioner.services.compute.allocator import (
    DeploymentRequest,
    Placement,
    PlannerSettings,
    VolumeRequest,
    allocate,
)
from provisioner.services.compute.settings import planner_settings
from provisioner.services.compute.states import HOLDS_HOST, VolumeState

ANTI_AFFINITY, AFFINITY = "host anti-affinity", "host affinity"


def split_tags(value: str | None) -> frozenset[str]:
    """Comma-separated offering tags as a set (blanks dropped)."""
    return frozenset(tag.strip() for tag in (value or "").split(",") if tag.strip())


@dataclass(frozen=True, slots=True)
class NicRequest:
    """A NIC to create: its guest network and, optionally, the address asked for."""

    network_id: int
    ip_address: str | None = None
    network: Any = None  # its ``network`` row, when the caller read it already


@dataclass(frozen=True, slots=True)
class VmSpec:
    """What ``deployVirtualMachine`` asks for, resolved to internal ids.

    ``cpu_number``/``cpu_speed``/``memory`` override the offering (customised offerings);
    ``root_size`` overrides its root disk size; ``data_disk_offering_id`` adds a DATADISK.
    """

    name: str
    zone_id: int
    service_offering_id: int
    account_id: int
    domain_id: int
    user_id: int | None = None
    display_name: str | None = None
    template_id: int | None = None
    hypervisor: str | None = None
    cpu_number: int | None = None
    cpu_speed: int | None = None
    memory: int | None = None  # MiB
    root_size: int | None = None  # bytes
    data_disk_offering_id: int | None = None
    data_disk_size: int | None = None
    nics: tuple[NicRequest, ...] = ()
    affinity_group_ids: tuple[int, ...] = ()
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    start: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    user_data: str | None = None
    keypair: str | None = None
    is_root_admin: bool = False
    uuid: str | None = None  # chosen by the caller (an unnamed VM is named after it), else a fresh one


@dataclass(frozen=True, slots=True)
class AllocatedVm:
    """What :func:`allocate_vm` created."""

    id: int
    uuid: str
    instance_name: str
    state: VMState
    placement: Placement | None
    volume_ids: tuple[int, ...]
    nics: tuple[tuple[str, str], ...]  # (ip address, MAC) per NIC, in device order


def affinity_hosts(conn: Connection, group_ids: tuple[int, ...]) -> tuple[frozenset[int], frozenset[int] | None]:
    """Hosts to avoid (anti-affinity members) and hosts required (affinity members; None: no such group)."""
    if not group_ids:
        return frozenset(), None
    rows = conn.execute(
        select(affinity_group.c.type, vm_instance.c.host_id)
        .select_from(affinity_group)
        .outerjoin(affinity_group_vm_map, affinity_group_vm_map.c.affinity_group_id == affinity_group.c.id)
        .outerjoin(vm_instance, vm_instance.c.id == affinity_group_vm_map.c.vm_id)
        .where(affinity_group.c.id.in_(group_ids))
    ).all()
    avoid = frozenset(r.host_id for r in rows if r.type == ANTI_AFFINITY and r.host_id is not None)
    has_affinity = any(r.type == AFFINITY for r in rows)
    required = frozenset(r.host_id for r in rows if r.type == AFFINITY and r.host_id is not None)
    return avoid, (required if has_affinity else None)


def _offering(conn: Connection, spec: VmSpec) -> Any:
    row = conn.execute(
        select(service_offering).where(
            service_offering.c.id == spec.service_offering_id, service_offering.c.removed.is_(None)
        )
    ).first()
    if row is None:
        raise ParamError(f"Unable to find service offering by id {spec.service_offering_id}")
    return row


def _volumes(conn: Connection, spec: VmSpec, offering: Any) -> list[tuple[str, VolumeRequest, int | None]]:
    """(type, request, disk offering id) for ROOT and the optional DATADISK."""
    root_size = spec.root_size or offering.root_disk_size
    if not root_size:
        raise ParamError("Root disk size is unknown: pass rootdisksize or use an offering with a root disk size")
    root = VolumeRequest(
        f"ROOT-{spec.name}", int(root_size), split_tags(offering.storage_tags), offering.storage_type == "local"
    )
    volumes: list[tuple[str, VolumeRequest, int | None]] = [("ROOT", root, None)]
    if spec.data_disk_offering_id is not None:
        disk = conn.execute(select(disk_offering).where(disk_offering.c.id == spec.data_disk_offering_id)).first()
        if disk is None:
            raise ParamError(f"Unable to find disk offering by id {spec.data_disk_offering_id}")
        size = spec.data_disk_size if disk.is_customized else disk.disk_size
        if not size:
            raise ParamError(f"Disk offering {disk.name} is customised: pass a size for the data disk")
        data = VolumeRequest(f"DATA-{spec.name}", int(size), split_tags(disk.tags), disk.storage_type == "local")
        volumes.append(("DATADISK", data, disk.id))
    return volumes


#: Built once (the values come as execution parameters): building a wide INSERT with ``.values(...)`` and its cache
#: key cost more than running it, and every deployment runs these.
_INSERT_VM = insert(vm_instance)
_INSERT_VOLUME = insert(volume)
_INSERT_USER_DATA = insert(user_data)
_NAME_INSTANCE = update(vm_instance).where(vm_instance.c.id == bindparam("vm"))


def allocate_vm(
    conn: Connection,
    spec: VmSpec,
    *,
    settings: PlannerSettings | None = None,
    rng: random.Random | None = None,
    mac_source: macs.MacSource | None = None,
    offering: Any = None,
) -> AllocatedVm:
    """Create a VM in Starting (capacity reserved) or, with ``spec.start`` False, in Stopped.

    ``offering``: the ``service_offering`` row of ``spec`` when the caller read it already.

    Raises:
        ParamError: an unknown offering, network or address, or a missing size (431).
        InsufficientCapacityError: no host or pool fits, or the network is full (533).
    """
    if offering is None:
        offering = _offering(conn, spec)
    cpu_number = spec.cpu_number or offering.cpu_number
    cpu_speed = spec.cpu_speed or offering.cpu_speed
    memory = spec.memory or offering.memory
    if not (cpu_number and cpu_speed and memory):
        raise ParamError(f"Service offering {offering.name} is customised: pass cpuNumber, cpuSpeed and memory")
    volumes = _volumes(conn, spec, offering)
    placement: Placement | None = None
    if spec.start:
        avoid, required = affinity_hosts(conn, spec.affinity_group_ids)
        request = DeploymentRequest(
            zone_id=spec.zone_id,
            cpu_number=cpu_number,
            cpu_speed=cpu_speed,
            memory_mib=memory,
            account_id=spec.account_id,
            host_tags=split_tags(offering.host_tags),
            hypervisor=spec.hypervisor,
            volumes=tuple(v for _, v, _ in volumes),
            pod_id=spec.pod_id,
            cluster_id=spec.cluster_id,
            host_id=spec.host_id,
            avoid_hosts=avoid,
            affinity_hosts=required,
            is_root_admin=spec.is_root_admin,
        )
        placement = allocate(conn, request, settings or planner_settings(conn, offering.deployment_planner), rng=rng)
    user_data_id = None
    if spec.user_data is not None:
        user_data_id = conn.execute(
            _INSERT_USER_DATA, {"account_id": spec.account_id, "domain_id": spec.domain_id, "data": spec.user_data}
        ).inserted_primary_key[0]  # type: ignore[index]
    state = VMState.STARTING if placement else VMState.STOPPED
    vm_uuid = spec.uuid or new_uuid()
    inserted = conn.execute(
        _INSERT_VM,
        {
            "uuid": vm_uuid,
            "name": spec.name,
            "display_name": spec.display_name or spec.name,
            "instance_name": f"pending-{vm_uuid}",
            "state": state.value,
            "hypervisor_type": spec.hypervisor,
            "host_id": placement.host_id if placement else None,
            "pod_id": placement.pod_id if placement else spec.pod_id,
            "cluster_id": placement.cluster_id if placement else None,
            "zone_id": spec.zone_id,
            "service_offering_id": offering.id,
            "template_id": spec.template_id,
            "account_id": spec.account_id,
            "domain_id": spec.domain_id,
            "user_id": spec.user_id,
            "cpu_number": cpu_number,
            "cpu_speed": cpu_speed,
            "memory": memory,
            "details": dict(spec.details),
            "user_data_id": user_data_id,
            "keypair": spec.keypair,
            "ha_enabled": offering.offer_ha,
            "limit_cpu_use": offering.limit_cpu_use,
        },
    )
    vm_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    # CloudStack's instance name needs the VM id, known only now.
    instance_name = f"i-{spec.account_id}-{vm_id}-VM"
    conn.execute(_NAME_INSTANCE, {"vm": vm_id, "instance_name": instance_name})
    volume_ids = []
    for device, (kind, request_volume, disk_offering_id) in enumerate(volumes):
        pool_id = placement.pool_ids[device] if placement else None
        volume_ids.append(
            conn.execute(
                _INSERT_VOLUME,
                {
                    "name": f"{kind}-{vm_id}",
                    "volume_type": kind,
                    "state": VolumeState.ALLOCATED.value,
                    "size": request_volume.size,
                    "pool_id": pool_id,
                    "vm_id": vm_id,
                    "device_id": device,
                    "disk_offering_id": disk_offering_id,
                    "template_id": spec.template_id if kind == "ROOT" else None,
                    "account_id": spec.account_id,
                    "domain_id": spec.domain_id,
                    "zone_id": spec.zone_id,
                },
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    if spec.affinity_group_ids:
        conn.execute(
            insert(affinity_group_vm_map),
            [{"affinity_group_id": group_id, "vm_id": vm_id} for group_id in spec.affinity_group_ids],
        )
    # Addresses last: allocating one locks the network's row (its cursor) until COMMIT, and every
    # deployment on the network waits for it.
    nics = []
    for device, nic_request in enumerate(spec.nics):
        ip_range = (
            ipam.range_of(nic_request.network)
            if nic_request.network is not None
            else ipam.load_range(conn, nic_request.network_id)
        )
        address = ipam.allocate_ip(conn, ip_range, vm_id=vm_id, requested=nic_request.ip_address)
        _, mac = macs.insert_nic(
            conn,
            {
                "vm_id": vm_id,
                "network_id": nic_request.network_id,
                "ip_address": address,
                "netmask": ip_range.netmask,
                "gateway": ip_range.gateway,
                "device_id": device,
                "is_default": device == 0,
                "mode": "Static" if nic_request.ip_address else "Dhcp",
            },
            source=mac_source,
        )
        nics.append((address, mac))
    return AllocatedVm(vm_id, vm_uuid, instance_name, state, placement, tuple(int(v) for v in volume_ids), tuple(nics))


#: Built once: the statement runs several times per deployment, and building it (and its cache key) anew costs more
#: than running it.
_LIVE_VM = select(vm_instance).where(vm_instance.c.id == bindparam("vm_id"), vm_instance.c.removed.is_(None))


def vm_row(conn: Connection, vm_id: int) -> Any:
    """The live VM row.

    Raises:
        ParamError: no such VM (431).
    """
    row = conn.execute(_LIVE_VM, {"vm_id": vm_id}).first()
    if row is None:
        raise ParamError(f"Unable to find virtual machine by id {vm_id}")
    return row


def holds_host(state: str) -> bool:
    """Whether a VM in ``state`` holds CPU and memory on its host."""
    return VMState(state) in HOLDS_HOST
