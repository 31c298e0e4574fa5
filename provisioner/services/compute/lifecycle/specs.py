"""What a driver needs to define a VM, read from its rows: the driver ``VMSpec`` and the host to open.

Read inside the transaction that moved the VM to Starting, used after it committed: the driver is
never called with a transaction open.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, bindparam, select

from provisioner.compute.types import CloudInitSeed, NicSpec, VMSpec
from provisioner.db.schema import (
    guest_network,
    host,
    nic,
    physical_network_traffic_type,
    user_data,
)
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.lifecycle import guest_password, host_disks
from provisioner.services.compute.lifecycle.keys import public_keys
from provisioner.services.compute.lifecycle.scaling import live_maxima
from provisioner.services.templates.deploy import base_image_key

#: The bridge guest NICs go on when the physical network names no KVM label (CloudStack's default).
DEFAULT_BRIDGE = "cloudbr0"


@dataclass(frozen=True, slots=True)
class DriverPlan:
    """A VM's driver spec, the host (row) whose driver runs it, and the base image its root disk needs.

    Attributes:
        host: the ``host`` row.
        spec: the driver spec; its disks are set by :meth:`with_disks` once the host's view of them is known.
        volumes: the VM's volumes and their pools (:mod:`.host_disks`).
        base: (template id, pool row) when the root disk is to be made on the template's base image.
        backing: the acquired base image, once :meth:`with_backing` set it.
        disks: the disks as the host reaches them, once :meth:`with_disks` set them.
    """

    host: dict[str, Any]
    spec: VMSpec
    volumes: tuple[host_disks.PlacedVolume, ...]
    base: tuple[int, dict[str, Any]] | None = None
    backing: str | None = None
    disks: host_disks.HostDisks | None = None

    @property
    def volume_paths(self) -> dict[int, str]:
        """Volume id -> its ``path`` to record once the VM runs (empty before :meth:`with_disks`)."""
        return self.disks.paths if self.disks is not None else {}

    @property
    def template_key(self) -> str | None:
        """The base image key of the template the root disk is made on, or None."""
        return base_image_key(self.base[0]) if self.base is not None else None

    def with_backing(self, backing: str | None) -> DriverPlan:
        """The plan with the acquired base image (where the storage driver put it), or as it is for None."""
        return self if backing is None else replace(self, backing=backing)

    def with_disks(self, placed: host_disks.HostDisks) -> DriverPlan:
        """The plan with the disks as the host reaches them."""
        return replace(self, spec=replace(self.spec, disks=placed.disks), disks=placed)


_HOST = select(host).where(host.c.id == bindparam("host_id"))  # built once: every start reads it


def host_row(conn: Connection, host_id: int) -> dict[str, Any]:
    """The ``host`` row :func:`~provisioner.services.compute.host_drivers.open_host_driver` needs."""
    row = conn.execute(_HOST, {"host_id": host_id}).mappings().one()
    return {str(key): value for key, value in row.items()}


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


def _nics(conn: Connection, vm_id: int, nic_id: int | None = None) -> tuple[NicSpec, ...]:
    only = () if nic_id is None else (nic.c.id == nic_id,)
    rows = conn.execute(
        select(
            nic.c.mac_address,
            nic.c.device_id,
            nic.c.broadcast_uri,
            guest_network.c.vlan,
            guest_network.c.physical_network_id,
        )
        .join(guest_network, guest_network.c.id == nic.c.network_id)
        .where(nic.c.vm_id == vm_id, nic.c.removed.is_(None), *only)
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


def nic_spec(conn: Connection, vm_id: int, nic_id: int) -> NicSpec:
    """The driver spec of one live NIC of a VM, as the VM's spec at define time has it."""
    (spec,) = _nics(conn, vm_id, nic_id)
    return spec


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
        password_hash=guest_password.password_hash(vm),
    )


def driver_plan(conn: Connection, vm: Any, host_id: int, *, base: tuple[int, dict[str, Any]] | None) -> DriverPlan:
    """The driver spec of ``vm`` (a ``vm_instance`` row) on host ``host_id``; ``base``: see :class:`DriverPlan`."""
    # The password hash reaches the guest in the seed alone, not the driver's details.
    details = {str(k): str(v) for k, v in (vm.details or {}).items() if k != guest_password.HASH_DETAIL}
    where = host_row(conn, host_id)
    max_vcpus, max_memory_bytes = live_maxima(conn, vm, where)
    spec = VMSpec(
        name=vm.instance_name,
        uuid=vm.uuid,
        vcpus=vm.cpu_number,
        cpu_mhz=vm.cpu_speed,
        memory_bytes=vm.memory * MIB,
        max_vcpus=max_vcpus,
        max_memory_bytes=max_memory_bytes,
        nics=_nics(conn, vm.id),
        seed=_seed(conn, vm),
        display_name=vm.display_name,
        details=details,
    )
    return DriverPlan(where, spec, host_disks.read_volumes(conn, vm.id), base)
