"""The values sync works with: resources (desired or observed), actions and the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioner.client import Value


class Kind(StrEnum):
    """The kinds of objects sync manages, declared in CloudStack's zone-build order (creates run in it)."""

    ZONE = "zone"
    PHYSICAL_NETWORK = "physical_network"
    TRAFFIC_TYPE = "traffic_type"
    POD = "pod"
    IP_RANGE = "public_ip_range"
    CLUSTER = "cluster"
    HOST = "host"
    STORAGE_POOL = "primary_storage"
    IMAGE_STORE = "image_store"
    SERVICE_OFFERING = "service_offering"
    DISK_OFFERING = "disk_offering"
    NETWORK_OFFERING = "network_offering"
    NETWORK = "guest_network"
    TEMPLATE = "template"
    ISO = "iso"

    @property
    def rank(self) -> int:
        """Position in the zone-build order (deletes run in the reverse order)."""
        return list(Kind).index(self)


#: Fields each kind can change in place; a change to any other compared field replaces the object.
UPDATABLE: dict[Kind, frozenset[str]] = {
    Kind.ZONE: frozenset(
        {"dns1", "dns2", "internaldns1", "internaldns2", "guestcidraddress", "domain", "allocationstate"}
        | {"localstorageenabled"}
    ),
    Kind.PHYSICAL_NETWORK: frozenset({"vlan", "tags", "state", "virtualrouter"}),
    Kind.TRAFFIC_TYPE: frozenset({"kvmnetworklabel", "vmwarenetworklabel", "xennetworklabel", "hypervnetworklabel"}),
    Kind.POD: frozenset({"gateway", "netmask", "startip", "endip"}),
    Kind.IP_RANGE: frozenset(),
    Kind.CLUSTER: frozenset({"cpu.overprovisioning.factor", "mem.overprovisioning.factor"}),
    Kind.HOST: frozenset({"hosttags"}),
    Kind.STORAGE_POOL: frozenset({"tags", "storage.overprovisioning.factor"}),
    Kind.IMAGE_STORE: frozenset(),
    Kind.SERVICE_OFFERING: frozenset({"displaytext", "hosttags", "storagetags"}),
    Kind.DISK_OFFERING: frozenset({"displaytext", "tags"}),
    Kind.NETWORK_OFFERING: frozenset({"displaytext", "state"}),
    Kind.NETWORK: frozenset({"displaytext"}),
    Kind.TEMPLATE: frozenset(
        {"displaytext", "ispublic", "isfeatured", "isextractable", "passwordenabled", "sshkeyenabled"}
    ),
    Kind.ISO: frozenset({"displaytext", "ispublic", "isfeatured", "isextractable", "bootable"}),
}

#: Kinds sync never deletes: they are not inside a zone, so nothing says another user does not rely on them
#: (a template or ISO the topology no longer names may still back VMs; it is replaced only when changed).
#: Guest networks are read as the admin sees them, which includes networks made for the admin's own VMs.
NEVER_DELETED = frozenset(
    {Kind.ZONE, Kind.SERVICE_OFFERING, Kind.DISK_OFFERING, Kind.NETWORK_OFFERING, Kind.NETWORK, Kind.TEMPLATE, Kind.ISO}
)


@dataclass(frozen=True)
class Resource:
    """One object, as the topology wants it or as the server holds it.

    Attributes:
        kind: what it is.
        key: its names from the zone down (``("lab-zone", "lab-pod", "lab-sim", "sim-1")``); offerings
            have just their name.
        fields: the compared values, normalised to strings (desired resources hold only what the
            topology sets, so server defaults are never reported as drift).
        params: what creating it needs beyond ``fields`` (URLs, hypervisor, credential references).
        id: the server's UUID (observed resources only).
        aliases: other keys it may be known by (a host by its IP address).
    """

    kind: Kind
    key: tuple[str, ...]
    fields: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Value] = field(default_factory=dict)
    id: str | None = None
    aliases: tuple[tuple[str, ...], ...] = ()

    @property
    def name(self) -> str:
        """The object's own name (the last part of its key)."""
        return self.key[-1]

    @property
    def address(self) -> str:
        """``kind key/parts`` as plans print it, e.g. ``host lab-zone/lab-pod/lab-sim/sim-1``."""
        return f"{self.kind.value} {'/'.join(self.key)}"


class ActionType(StrEnum):
    """What the plan does with an object."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    UNCHANGED = "unchanged"


#: Plan symbols, as terraform prints them.
SYMBOLS = {
    ActionType.CREATE: "+",
    ActionType.UPDATE: "~",
    ActionType.REPLACE: "-/+",
    ActionType.DELETE: "-",
    ActionType.UNCHANGED: " ",
}


@dataclass(frozen=True)
class Change:
    """One field that differs: its value on the server and in the topology."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Action:
    """What to do with one object.

    Attributes:
        type: create, update, replace, delete or unchanged.
        desired: the object as the topology wants it (None for deletes).
        observed: the object on the server (None for creates).
        changes: the fields that differ (updates and replaces), or all fields (creates).
    """

    type: ActionType
    desired: Resource | None
    observed: Resource | None
    changes: tuple[Change, ...] = ()

    @property
    def resource(self) -> Resource:
        """The desired object, or the observed one for deletes."""
        chosen = self.desired or self.observed
        assert chosen is not None
        return chosen

    def as_json(self) -> dict[str, Any]:
        """The action as JSON-ready data (``--output json``)."""
        resource = self.resource
        data: dict[str, Any] = {
            "action": self.type.value,
            "kind": resource.kind.value,
            "key": list(resource.key),
            "id": self.observed.id if self.observed is not None else None,
            "changes": {change.field: {"old": change.old, "new": change.new} for change in self.changes},
        }
        if self.type in (ActionType.CREATE, ActionType.REPLACE) and self.desired is not None:
            # What creating it sends besides the fields: URLs, hypervisor, credential references (never secrets).
            data["params"] = {name: value for name, value in self.desired.params.items() if value is not None}
        return data


@dataclass(frozen=True)
class Plan:
    """The actions that make the server match the topology, in the order they run.

    Deletes come first, in reverse zone-build order (children before parents), then creates,
    replacements' creates and updates in zone-build order.
    """

    actions: tuple[Action, ...]

    def count(self, *types: ActionType) -> int:
        """How many actions have one of ``types``."""
        return sum(1 for action in self.actions if action.type in types)

    @property
    def to_create(self) -> int:
        """Objects created (a replacement counts here and in deletes, as terraform counts it)."""
        return self.count(ActionType.CREATE, ActionType.REPLACE)

    @property
    def to_update(self) -> int:
        """Objects changed in place."""
        return self.count(ActionType.UPDATE)

    @property
    def to_delete(self) -> int:
        """Objects deleted, replacements included."""
        return self.count(ActionType.DELETE, ActionType.REPLACE)

    @property
    def unchanged(self) -> int:
        """Objects already as wanted."""
        return self.count(ActionType.UNCHANGED)

    @property
    def has_changes(self) -> bool:
        """Whether applying would change anything."""
        return any(action.type is not ActionType.UNCHANGED for action in self.actions)

    def summary(self) -> str:
        """``Plan: N to create, M to update, K to delete, U unchanged.``"""
        return (
            f"Plan: {self.to_create} to create, {self.to_update} to update, "
            f"{self.to_delete} to delete, {self.unchanged} unchanged."
        )

    def as_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        return {
            "summary": {
                "create": self.to_create,
                "update": self.to_update,
                "delete": self.to_delete,
                "unchanged": self.unchanged,
            },
            "actions": [action.as_json() for action in self.actions],
        }
