"""How far a VM may grow while it runs: the maxima its domain is defined with (CloudStack's dynamic scaling).

Where ``enable.dynamic.scale.vm`` is true (zone scope, false by default), a VM whose template is dynamically
scalable gets room to grow up to ``vm.serviceoffering.cpu.cores.max``
vCPUs and ``vm.serviceoffering.ram.size.max`` MiB, 0 meaning the host's capacity and neither above it, as
CloudStack's KVM guru sets a VM's maximum CPUs and RAM; any other VM gets none, and only a stopped one can be
scaled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, select

from provisioner.db.schema import vm_template
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.configuration import config_value

CPU_CORES_MAX = "vm.serviceoffering.cpu.cores.max"
RAM_SIZE_MAX = "vm.serviceoffering.ram.size.max"
ENABLE_DYNAMIC_SCALE = "enable.dynamic.scale.vm"


def dynamic_scaling_enabled(conn: Connection, zone_id: int) -> bool:
    """Whether ``enable.dynamic.scale.vm`` is true for the zone (CloudStack's default: false)."""
    return (config_value(conn, ENABLE_DYNAMIC_SCALE, "zone", zone_id) or "").strip().lower() == "true"


_SCALABLE = select(vm_template.c.dynamically_scalable).where(vm_template.c.id == bindparam("template"))  # built once


def dynamically_scalable(conn: Connection, template_id: int | None) -> bool:
    """Whether VMs of the template can be scaled while running."""
    if template_id is None:
        return False
    flag = conn.execute(_SCALABLE, {"template": template_id}).scalar()
    return bool(flag)


def _ceiling(setting: str | None, capacity: int) -> int:
    value = int(setting) if setting and setting.strip().isdigit() else 0
    if capacity <= 0:
        return value
    return capacity if value <= 0 else min(value, capacity)


def live_maxima(conn: Connection, vm: Any, host: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(max vCPUs, max memory bytes) of ``vm`` (a ``vm_instance`` row) on ``host`` (a ``host`` row), or
    (None, None) when its template is not dynamically scalable or the zone does not enable dynamic scaling; never
    below the VM's own size."""
    if not dynamically_scalable(conn, vm.template_id) or not dynamic_scaling_enabled(conn, vm.zone_id):
        return None, None
    cores = _ceiling(config_value(conn, CPU_CORES_MAX), int(host.get("cpu_cores") or 0))
    memory_mib = _ceiling(config_value(conn, RAM_SIZE_MAX), int(host.get("memory") or 0) // MIB)
    return max(cores, vm.cpu_number), max(memory_mib, vm.memory) * MIB


__all__ = [
    "CPU_CORES_MAX",
    "ENABLE_DYNAMIC_SCALE",
    "RAM_SIZE_MAX",
    "dynamic_scaling_enabled",
    "dynamically_scalable",
    "live_maxima",
]
