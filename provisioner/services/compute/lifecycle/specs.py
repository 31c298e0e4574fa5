"""What a driver needs to define a VM, read from its rows: the driver ``VMSpec`` and the host to open.

Read inside the transaction that moved the VM to Starting, used after it committed: the driver is
never called with a transaction open.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from provisioner.compute.types import CloudInitSeed, NicSpec, VMSpec, VolumeSpec
from provisioner.db.schema import (
    guest_network,
    host,
    nic,
    physical_network_traffic_type,
    storage_pool,
    user_data,
    volume,
)
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.lifecycle.keys import public_keys

#: The bridge guest NICs go on when the physical network names no KVM label (CloudStack's default).
DEFAULT_BRIDGE = "cloudbr0"
#: Where a volume without a pool would go (never reached: a started VM's volumes are all placed).
UNPLACED_DIRECTORY = "/var/lib/provisioner"
#: Pool types whose ``path`` is a directory on the host itself; others are mounted at ``/mnt/<pool uuid>``.
_LOCAL_PATH_POOLS = frozenset({"Filesystem", "SharedMountPoint", "LVM"})


@dataclass(frozen=True, slots=True)
class DriverPlan:
    """A VM's driver spec, the host (row) whose driver runs it, and the base image its root disk needs.

    Attributes:
        host: the ``host`` row.
        spec: the driver spec (the root disk's ``backing`` is set once the base image is acquired).
        volume_paths: volume id -> path on its pool.
        base: (template id, pool row) when the root disk is to be made on the template's base image.
        backing: the acquired base image, once :meth:`with_backing` set it.
    """

    host: dict[str, Any]
    spec: VMSpec
    volume_paths: dict[int, str]
    base: tuple[int, dict[str, Any]] | None = None
    backing: str | None = None

    def with_backing(self, backing: str | None) -> DriverPlan:
        """The plan with the root disk as an overlay on ``backing`` (a path on the host; URLs are not overlaid)."""
        if backing is None:
            return self
        disks = tuple(
            replace(disk, backing=backing) if disk.device_id == 0 and backing.startswith("/") else disk
            for disk in self.spec.disks
        )
        return replace(self, spec=replace(self.spec, disks=disks), backing=backing)


def host_row(conn: Connection, host_id: int) -> dict[str, Any]:
    """The ``host`` row :func:`~provisioner.services.compute.host_drivers.open_host_driver` needs."""
    row = conn.execute(select(host).where(host.c.id == host_id)).mappings().one()
    return {str(key): value for key, value in row.items()}


def pool_directory(pool: Any) -> str:
    """Where a pool's files are on a host: its own path for local directories, ``/mnt/<uuid>`` for mounts."""
    if pool.pool_type in _LOCAL_PATH_POOLS and pool.path:
        return str(pool.path).rstrip("/")
    return f"/mnt/{pool.uuid}"


def _vlan(uri: str | None) -> int | None:
    if not uri:
        return None
    tag = uri.rsplit("/", 1)[-1]
    return int(tag) if tag.isdigit() and 1 <= int(tag) <= 4094 else None


def _bridges(conn: Connection, physical_ids: set[int]) -> dict[int, str]:
    if not physical_ids:
        return {}
    rows = conn.execute(
        select(physical_network_traffic_type.c.physical_network_id, physical_network_traffic_type.c.kvm_label).where(
            physical_network_traffic_type.c.physical_network_id.in_(physical_ids),
            physical_network_traffic_type.c.traffic_type == "Guest",
        )
    )
    return {pid: label for pid, label in rows if label}


def _nics(conn: Connection, vm_id: int) -> tuple[NicSpec, ...]:
    rows = conn.execute(
        select(
            nic.c.mac_address,
            nic.c.device_id,
            nic.c.broadcast_uri,
            guest_network.c.vlan,
            guest_network.c.physical_network_id,
        )
        .join(guest_network, guest_network.c.id == nic.c.network_id)
        .where(nic.c.vm_id == vm_id, nic.c.removed.is_(None))
        .order_by(nic.c.device_id)
    ).all()
    bridges = _bridges(conn, {r.physical_network_id for r in rows if r.physical_network_id is not None})
    return tuple(
        NicSpec(
            mac=r.mac_address.lower(),
            bridge=bridges.get(r.physical_network_id, DEFAULT_BRIDGE),
            vlan=_vlan(r.broadcast_uri or r.vlan),
            device_id=r.device_id,
        )
        for r in rows
    )


def _disks(conn: Connection, vm: Any) -> tuple[tuple[VolumeSpec, ...], dict[int, str]]:
    rows = conn.execute(
        select(
            volume,
            storage_pool.c.uuid.label("pool_uuid"),
            storage_pool.c.pool_type,
            storage_pool.c.path.label("pool_path"),
        )
        .outerjoin(storage_pool, storage_pool.c.id == volume.c.pool_id)
        .where(volume.c.vm_id == vm.id, volume.c.removed.is_(None), volume.c.volume_type.in_(("ROOT", "DATADISK")))
        .order_by(volume.c.device_id)
    ).all()
    disks, paths = [], {}
    for r in rows:
        directory = (
            pool_directory(_Pool(r.pool_uuid, r.pool_type, r.pool_path)) if r.pool_uuid else "/var/lib/provisioner"
        )
        path = r.path or f"{directory}/{r.uuid}"
        paths[r.id] = path
        disks.append(
            VolumeSpec(
                source=path,
                device_id=r.device_id or 0,
                size_bytes=r.size,
                volume_uuid=r.uuid,
            )
        )
    return tuple(disks), paths


@dataclass(frozen=True, slots=True)
class _Pool:
    uuid: str
    pool_type: str
    path: str | None


def _seed(conn: Connection, vm: Any) -> CloudInitSeed:
    text = ""
    if vm.user_data_id is not None:
        data = conn.execute(select(user_data.c.data).where(user_data.c.id == vm.user_data_id)).scalar()
        if data:
            text = base64.b64decode(data).decode("utf-8", errors="replace")
    return CloudInitSeed(
        instance_id=vm.uuid,
        hostname=vm.name,
        user_data=text,
        ssh_public_keys=public_keys(conn, vm.account_id, vm.keypair),
    )


def driver_plan(conn: Connection, vm: Any, host_id: int, *, base: tuple[int, dict[str, Any]] | None) -> DriverPlan:
    """The driver spec of ``vm`` (a ``vm_instance`` row) on host ``host_id``; ``base``: see :class:`DriverPlan`."""
    disks, paths = _disks(conn, vm)
    details = {str(k): str(v) for k, v in (vm.details or {}).items()}
    spec = VMSpec(
        name=vm.instance_name,
        uuid=vm.uuid,
        vcpus=vm.cpu_number,
        cpu_mhz=vm.cpu_speed,
        memory_bytes=vm.memory * MIB,
        disks=disks,
        nics=_nics(conn, vm.id),
        seed=_seed(conn, vm),
        display_name=vm.display_name,
        details=details,
    )
    return DriverPlan(host_row(conn, host_id), spec, paths, base)
