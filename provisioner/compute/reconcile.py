"""Reconciliation: compare what the server believes about VMs with what a hypervisor reports.

Pure functions, so the deciding part is tested without any backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from provisioner.compute.types import PowerState, VMInfo, VMState, VMStateChange, power_of


def diff_states(known: Mapping[str, VMState], observed: Iterable[VMInfo]) -> list[VMStateChange]:
    """Report every VM whose observed state differs from the known one.

    Args:
        known: VM name to the state the caller last recorded.
        observed: what the hypervisor reports now.

    Returns:
        One change per VM that changed state, appeared (``old`` is None) or vanished (``new`` is
        ``Stopped`` with power state ``PowerReportMissing``, as CloudStack marks VMs missing from a
        host report), sorted by name.
    """
    seen: dict[str, VMInfo] = {info.name: info for info in observed}
    changes: list[VMStateChange] = []
    for name, info in seen.items():
        old = known.get(name)
        if old is None:
            changes.append(VMStateChange(name, None, info.state, info.power_state, "appeared on the hypervisor"))
        elif old is not info.state:
            changes.append(VMStateChange(name, old, info.state, info.power_state, f"{old} -> {info.state}"))
    for name, old in known.items():
        if name not in seen:
            changes.append(
                VMStateChange(
                    name, old, VMState.STOPPED, PowerState.POWER_REPORT_MISSING, "vanished from the hypervisor"
                )
            )
    changes.sort(key=lambda change: change.name)
    return changes


__all__ = ["diff_states", "power_of"]
