"""The VM and volume state machines of §9, as tables (pure): (state, event) -> next state."""

from __future__ import annotations

import enum

from provisioner.compute.types import VMState
from provisioner.exceptions import ParamError


class VMEvent(enum.StrEnum):
    """``VirtualMachine.Event`` names."""

    START_REQUESTED = "StartRequested"
    STOP_REQUESTED = "StopRequested"
    MIGRATION_REQUESTED = "MigrationRequested"
    DESTROY_REQUESTED = "DestroyRequested"
    RECOVERY_REQUESTED = "RecoveryRequested"
    EXPUNGE_OPERATION = "ExpungeOperation"
    OPERATION_SUCCEEDED = "OperationSucceeded"
    OPERATION_FAILED = "OperationFailed"
    OPERATION_FAILED_TO_ERROR = "OperationFailedToError"
    POWER_ON_REPORT = "FollowAgentPowerOnReport"
    POWER_OFF_REPORT = "FollowAgentPowerOffReport"


S, E = VMState, VMEvent

VM_TRANSITIONS: dict[tuple[VMState, VMEvent], VMState] = {
    (S.STOPPED, E.START_REQUESTED): S.STARTING,
    (S.STARTING, E.OPERATION_SUCCEEDED): S.RUNNING,
    (S.STARTING, E.OPERATION_FAILED): S.STOPPED,
    (S.RUNNING, E.STOP_REQUESTED): S.STOPPING,
    (S.STOPPING, E.OPERATION_SUCCEEDED): S.STOPPED,
    (S.STOPPING, E.OPERATION_FAILED): S.RUNNING,
    (S.RUNNING, E.MIGRATION_REQUESTED): S.MIGRATING,
    (S.MIGRATING, E.OPERATION_SUCCEEDED): S.RUNNING,
    (S.MIGRATING, E.OPERATION_FAILED): S.RUNNING,
    (S.STOPPED, E.DESTROY_REQUESTED): S.DESTROYED,
    (S.ERROR, E.DESTROY_REQUESTED): S.DESTROYED,
    (S.DESTROYED, E.RECOVERY_REQUESTED): S.STOPPED,
    (S.DESTROYED, E.EXPUNGE_OPERATION): S.EXPUNGING,
    (S.ERROR, E.EXPUNGE_OPERATION): S.EXPUNGING,
    (S.EXPUNGING, E.OPERATION_FAILED): S.DESTROYED,
    (S.STOPPED, E.OPERATION_FAILED_TO_ERROR): S.ERROR,
    (S.STARTING, E.OPERATION_FAILED_TO_ERROR): S.ERROR,
    # Hypervisor power reports win over what we believed (``FollowAgentPowerOn/OffReport``).
    (S.STOPPED, E.POWER_ON_REPORT): S.RUNNING,
    (S.STARTING, E.POWER_ON_REPORT): S.RUNNING,
    (S.STOPPING, E.POWER_ON_REPORT): S.RUNNING,
    (S.MIGRATING, E.POWER_ON_REPORT): S.RUNNING,
    (S.RUNNING, E.POWER_ON_REPORT): S.RUNNING,
    (S.RUNNING, E.POWER_OFF_REPORT): S.STOPPED,
    (S.STARTING, E.POWER_OFF_REPORT): S.STOPPED,
    (S.STOPPING, E.POWER_OFF_REPORT): S.STOPPED,
    (S.MIGRATING, E.POWER_OFF_REPORT): S.STOPPED,
    (S.STOPPED, E.POWER_OFF_REPORT): S.STOPPED,
}

#: States in which a VM holds CPU and memory on ``host_id``; CloudStack releases them on stop.
HOLDS_HOST = frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.MIGRATING})
#: Transitional states (§9, marked *): a crash may leave a VM in one; the reconciler moves it on.
TRANSITIONAL = frozenset({S.STARTING, S.STOPPING, S.MIGRATING, S.EXPUNGING})


def next_vm_state(name: str, state: VMState, event: VMEvent) -> VMState:
    """The state ``event`` leads to from ``state``.

    Raises:
        ParamError: the transition does not exist (431), in CloudStack's ``NoTransitionException`` words.
    """
    target = VM_TRANSITIONS.get((state, event))
    if target is None:
        raise ParamError(f"Unable to transition VM {name} to a new state from {state} via {event}")
    return target


class VolumeState(enum.StrEnum):
    """``Volume.State`` names used by the allocator and the lifecycle."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    MIGRATING = "Migrating"
    RESIZING = "Resizing"
    DESTROY = "Destroy"
    EXPUNGING = "Expunging"
    EXPUNGED = "Expunged"


class VolumeEvent(enum.StrEnum):
    """``Volume.Event`` names."""

    CREATE_REQUESTED = "CreateRequested"
    OPERATION_SUCCEEDED = "OperationSucceeded"
    OPERATION_FAILED = "OperationFailed"
    MIGRATION_REQUESTED = "MigrationRequested"
    RESIZE_REQUESTED = "ResizeRequested"
    DESTROY_REQUESTED = "DestroyRequested"
    RECOVER_REQUESTED = "RecoverRequested"
    EXPUNGING_REQUESTED = "ExpungingRequested"


V, VE = VolumeState, VolumeEvent

VOLUME_TRANSITIONS: dict[tuple[VolumeState, VolumeEvent], VolumeState] = {
    (V.ALLOCATED, VE.CREATE_REQUESTED): V.CREATING,
    (V.CREATING, VE.OPERATION_SUCCEEDED): V.READY,
    (V.CREATING, VE.OPERATION_FAILED): V.ALLOCATED,
    (V.READY, VE.MIGRATION_REQUESTED): V.MIGRATING,
    (V.MIGRATING, VE.OPERATION_SUCCEEDED): V.READY,
    (V.MIGRATING, VE.OPERATION_FAILED): V.READY,
    (V.READY, VE.RESIZE_REQUESTED): V.RESIZING,
    (V.RESIZING, VE.OPERATION_SUCCEEDED): V.READY,
    (V.RESIZING, VE.OPERATION_FAILED): V.READY,
    (V.ALLOCATED, VE.DESTROY_REQUESTED): V.DESTROY,
    (V.READY, VE.DESTROY_REQUESTED): V.DESTROY,
    (V.DESTROY, VE.RECOVER_REQUESTED): V.READY,
    (V.DESTROY, VE.EXPUNGING_REQUESTED): V.EXPUNGING,
    (V.EXPUNGING, VE.OPERATION_SUCCEEDED): V.EXPUNGED,
    (V.EXPUNGING, VE.OPERATION_FAILED): V.DESTROY,
}

#: Volume states a crash may leave behind, and where the reconciler returns them.
VOLUME_RECOVERY: dict[VolumeState, VolumeState] = {
    V.CREATING: V.ALLOCATED,
    V.MIGRATING: V.READY,
    V.RESIZING: V.READY,
    V.EXPUNGING: V.DESTROY,
}


def next_volume_state(name: str, state: VolumeState, event: VolumeEvent) -> VolumeState:
    """The state ``event`` leads a volume to.

    Raises:
        ParamError: the transition does not exist (431).
    """
    target = VOLUME_TRANSITIONS.get((state, event))
    if target is None:
        raise ParamError(f"Unable to transition volume {name} to a new state from {state} via {event}")
    return target
