"""libvirt domain states and lifecycle events, mapped onto CloudStack's VM states.

The numbers are libvirt's public ABI (``virDomainState``, ``virDomainEventType``); they are copied
here so the mapping stays importable and testable without libvirt-python.
"""

from __future__ import annotations

from collections.abc import Mapping

from provisioner.compute.types import VMState

NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN, SHUTOFF, CRASHED, PMSUSPENDED = range(8)

#: ``virDomainState`` to CloudStack state, as CloudStack's KVM agent reports them.
STATE_MAP: Mapping[int, VMState] = {
    NOSTATE: VMState.UNKNOWN,
    RUNNING: VMState.RUNNING,
    BLOCKED: VMState.RUNNING,
    PAUSED: VMState.RUNNING,
    SHUTDOWN: VMState.STOPPING,
    SHUTOFF: VMState.STOPPED,
    CRASHED: VMState.ERROR,
    PMSUSPENDED: VMState.RUNNING,
}

EVENT_DEFINED, EVENT_UNDEFINED, EVENT_STARTED, EVENT_SUSPENDED, EVENT_RESUMED = range(5)
EVENT_STOPPED, EVENT_SHUTDOWN, EVENT_PMSUSPENDED, EVENT_CRASHED = range(5, 9)

EVENT_NAMES: Mapping[int, str] = {
    EVENT_DEFINED: "defined",
    EVENT_UNDEFINED: "undefined",
    EVENT_STARTED: "started",
    EVENT_SUSPENDED: "suspended",
    EVENT_RESUMED: "resumed",
    EVENT_STOPPED: "stopped",
    EVENT_SHUTDOWN: "shutdown",
    EVENT_PMSUSPENDED: "pmsuspended",
    EVENT_CRASHED: "crashed",
}

#: Lifecycle event to the state the VM is in afterwards (``undefined``: gone, reported as Stopped).
EVENT_STATE: Mapping[int, VMState] = {
    EVENT_DEFINED: VMState.STOPPED,
    EVENT_UNDEFINED: VMState.STOPPED,
    EVENT_STARTED: VMState.RUNNING,
    EVENT_SUSPENDED: VMState.RUNNING,
    EVENT_RESUMED: VMState.RUNNING,
    EVENT_STOPPED: VMState.STOPPED,
    EVENT_SHUTDOWN: VMState.STOPPING,
    EVENT_PMSUSPENDED: VMState.RUNNING,
    EVENT_CRASHED: VMState.ERROR,
}
