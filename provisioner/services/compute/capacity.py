"""Capacity bookkeeping checks: the host and pool counters against the sums over VMs and volumes.

The invariant every compute transaction keeps: a host's ``cpu_allocated``/``cores_allocated``/
``memory_allocated`` equal the sums over VMs in a holding state (``HOLDS_HOST``) on it, and a
pool's ``allocated_bytes`` equals the sizes of the live volumes placed on it. :func:`drift`
reports where they differ (tests, diagnostics); :func:`recalculate` repairs them.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update

from provisioner.db.schema import host, storage_pool, vm_instance, volume
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.states import HOLDS_HOST, VolumeState

_HOLDING = sorted(state.value for state in HOLDS_HOST)


def expected_host_usage(conn: Connection) -> dict[int, tuple[int, int, int]]:
    """Per host: (MHz, cores, bytes) held by its VMs in holding states."""
    rows = conn.execute(
        select(
            vm_instance.c.host_id,
            func.sum(vm_instance.c.cpu_number * vm_instance.c.cpu_speed),
            func.sum(vm_instance.c.cpu_number),
            func.sum(vm_instance.c.memory),
        )
        .where(vm_instance.c.state.in_(_HOLDING), vm_instance.c.host_id.is_not(None), vm_instance.c.removed.is_(None))
        .group_by(vm_instance.c.host_id)
    )
    return {int(h): (int(cpu), int(cores), int(mem) * MIB) for h, cpu, cores, mem in rows}


def expected_pool_usage(conn: Connection) -> dict[int, int]:
    """Per pool: bytes reserved by the live volumes placed on it."""
    rows = conn.execute(
        select(volume.c.pool_id, func.sum(volume.c.size))
        .where(
            volume.c.pool_id.is_not(None),
            volume.c.removed.is_(None),
            volume.c.state != VolumeState.EXPUNGED.value,
        )
        .group_by(volume.c.pool_id)
    )
    return {int(p): int(size) for p, size in rows}


def drift(conn: Connection) -> list[str]:
    """Hosts and pools whose counters differ from the sums; empty when capacity adds up."""
    problems: list[str] = []
    hosts = expected_host_usage(conn)
    for r in conn.execute(
        select(host.c.id, host.c.name, host.c.cpu_allocated, host.c.cores_allocated, host.c.memory_allocated)
    ):
        want = hosts.get(r.id, (0, 0, 0))
        have = (r.cpu_allocated, r.cores_allocated, r.memory_allocated)
        if have != want:
            problems.append(f"host {r.name}: counters (MHz, cores, bytes) {have} but VMs hold {want}")
    pools = expected_pool_usage(conn)
    for p in conn.execute(select(storage_pool.c.id, storage_pool.c.name, storage_pool.c.allocated_bytes)):
        if p.allocated_bytes != pools.get(p.id, 0):
            problems.append(f"pool {p.name}: allocated {p.allocated_bytes} bytes but volumes hold {pools.get(p.id, 0)}")
    return problems


def recalculate(conn: Connection) -> int:
    """Set every host and pool counter to the sums (a repair); returns how many rows changed."""
    changed = 0
    hosts = expected_host_usage(conn)
    for r in conn.execute(
        select(host.c.id, host.c.cpu_allocated, host.c.cores_allocated, host.c.memory_allocated)
    ).all():
        cpu, cores, mem = hosts.get(r.id, (0, 0, 0))
        if (r.cpu_allocated, r.cores_allocated, r.memory_allocated) != (cpu, cores, mem):
            conn.execute(
                update(host)
                .where(host.c.id == r.id)
                .values(cpu_allocated=cpu, cores_allocated=cores, memory_allocated=mem)
            )
            changed += 1
    pools = expected_pool_usage(conn)
    for p in conn.execute(select(storage_pool.c.id, storage_pool.c.allocated_bytes)).all():
        if p.allocated_bytes != pools.get(p.id, 0):
            conn.execute(
                update(storage_pool).where(storage_pool.c.id == p.id).values(allocated_bytes=pools.get(p.id, 0))
            )
            changed += 1
    return changed
