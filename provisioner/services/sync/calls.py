"""The API calls that create, update and delete each kind of object, as CloudStack names them.

Each function returns the steps an action needs, tagged with their :class:`Phase` so the executor can
run every step of every object in CloudStack's canonical zone-build order (a zone is created first
and enabled last; a physical network's provider and state are switched on before pods are added).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from provisioner.client import Json, Value
from provisioner.exceptions import ParamError
from provisioner.services.sync.desired import ENABLED, VIRTUAL_ROUTER
from provisioner.services.sync.model import Change, Kind, Resource


class Phase(IntEnum):
    """The canonical zone-build order (Marvin's ``deployDataCenter.py``), one value per kind of step."""

    ZONE = 0
    PHYSICAL_NETWORK = 1
    TRAFFIC_TYPE = 2
    PROVIDER = 3
    PHYSICAL_NETWORK_STATE = 4
    POD = 5
    IP_RANGE = 6
    CLUSTER = 7
    CLUSTER_SETTINGS = 8
    HOST = 9
    HOST_UP = 10
    STORAGE_POOL = 11
    IMAGE_STORE = 12
    OFFERING = 13
    NETWORK = 14
    IMAGE = 15
    ZONE_STATE = 16


class Context(Protocol):
    """What steps need from the executor: API calls and the ids of objects, known or just created."""

    def call(self, command: str, **params: Value) -> Json:
        """Run a command (waiting for its job) and return its answer."""

    def list_all(self, command: str, **filters: Value) -> list[Json]:
        """Every item of a list command."""

    def id_of(self, kind: Kind, key: tuple[str, ...]) -> str:
        """The server id of an object by key (raises when it is unknown)."""

    def remember(self, resource: Resource, new_id: str) -> None:
        """Record the id of an object just created."""

    def wait_host(self, host_id: str, *, resource_state: str | None = None) -> None:
        """Wait (bounded) until a host is Up, or in ``resource_state``."""


@dataclass(frozen=True)
class Step:
    """One call (or a few) of one action, run in its phase."""

    phase: Phase
    what: str
    run: Callable[[Context], None]


#: Per kind: (phase, create command, key of the new object in the answer).
CREATE_COMMANDS: dict[Kind, tuple[Phase, str, str]] = {
    Kind.ZONE: (Phase.ZONE, "createZone", "zone"),
    Kind.PHYSICAL_NETWORK: (Phase.PHYSICAL_NETWORK, "createPhysicalNetwork", "physicalnetwork"),
    Kind.TRAFFIC_TYPE: (Phase.TRAFFIC_TYPE, "addTrafficType", "traffictype"),
    Kind.POD: (Phase.POD, "createPod", "pod"),
    Kind.IP_RANGE: (Phase.IP_RANGE, "createVlanIpRange", "vlan"),
    Kind.CLUSTER: (Phase.CLUSTER, "addCluster", "cluster"),
    Kind.HOST: (Phase.HOST, "addHost", "host"),
    Kind.STORAGE_POOL: (Phase.STORAGE_POOL, "createStoragePool", "storagepool"),
    Kind.IMAGE_STORE: (Phase.IMAGE_STORE, "addImageStore", "imagestore"),
    Kind.SERVICE_OFFERING: (Phase.OFFERING, "createServiceOffering", "serviceoffering"),
    Kind.DISK_OFFERING: (Phase.OFFERING, "createDiskOffering", "diskoffering"),
    Kind.NETWORK_OFFERING: (Phase.OFFERING, "createNetworkOffering", "networkoffering"),
    Kind.NETWORK: (Phase.NETWORK, "createNetwork", "network"),
    Kind.TEMPLATE: (Phase.IMAGE, "registerTemplate", "template"),
    Kind.ISO: (Phase.IMAGE, "registerIso", "iso"),
}

#: The command that deletes each kind (hosts first go into maintenance).
DELETE_COMMANDS = {
    Kind.ZONE: "deleteZone",
    Kind.PHYSICAL_NETWORK: "deletePhysicalNetwork",
    Kind.TRAFFIC_TYPE: "deleteTrafficType",
    Kind.POD: "deletePod",
    Kind.IP_RANGE: "deleteVlanIpRange",
    Kind.CLUSTER: "deleteCluster",
    Kind.HOST: "deleteHost",
    Kind.STORAGE_POOL: "deleteStoragePool",
    Kind.IMAGE_STORE: "deleteImageStore",
    Kind.SERVICE_OFFERING: "deleteServiceOffering",
    Kind.DISK_OFFERING: "deleteDiskOffering",
    Kind.NETWORK_OFFERING: "deleteNetworkOffering",
    Kind.NETWORK: "deleteNetwork",
    Kind.TEMPLATE: "deleteTemplate",
    Kind.ISO: "deleteIso",
}

#: Fields compared but not sent at creation (switched on in a later phase, or only read back).
_NOT_SENT: dict[Kind, frozenset[str]] = {
    Kind.ZONE: frozenset({"allocationstate"}),
    Kind.PHYSICAL_NETWORK: frozenset({"state", "virtualrouter"}),
    Kind.CLUSTER: frozenset({"cpu.overprovisioning.factor", "mem.overprovisioning.factor"}),
    Kind.STORAGE_POOL: frozenset({"scope", "path", "storage.overprovisioning.factor"}),
    Kind.SERVICE_OFFERING: frozenset({"storagetags"}),
    Kind.DISK_OFFERING: frozenset({"iscustomized"}),
    Kind.NETWORK_OFFERING: frozenset({"state"}),
    Kind.NETWORK: frozenset({"type", "networkofferingname"}),
    Kind.TEMPLATE: frozenset({"zones"}),
    Kind.ISO: frozenset({"zones"}),
}

#: Per kind: (parameter, parent kind, key length) of the ids a create needs.
_PARENTS: dict[Kind, tuple[tuple[str, Kind, int], ...]] = {
    Kind.PHYSICAL_NETWORK: (("zoneid", Kind.ZONE, 1),),
    Kind.TRAFFIC_TYPE: (("physicalnetworkid", Kind.PHYSICAL_NETWORK, 2),),
    Kind.POD: (("zoneid", Kind.ZONE, 1),),
    Kind.IP_RANGE: (("zoneid", Kind.ZONE, 1), ("physicalnetworkid", Kind.PHYSICAL_NETWORK, 2)),
    Kind.CLUSTER: (("zoneid", Kind.ZONE, 1), ("podid", Kind.POD, 2)),
    Kind.HOST: (("zoneid", Kind.ZONE, 1), ("podid", Kind.POD, 2), ("clusterid", Kind.CLUSTER, 3)),
    Kind.STORAGE_POOL: (("zoneid", Kind.ZONE, 1),),
    Kind.IMAGE_STORE: (("zoneid", Kind.ZONE, 1),),
    Kind.NETWORK: (("zoneid", Kind.ZONE, 1),),
}

#: Params holding another object's key (``zone/pod``) instead of a value: resolved to ids at run time.
_KEYED_PARAMS = {"pod_key": ("podid", Kind.POD), "cluster_key": ("clusterid", Kind.CLUSTER)}
_KEYED_PARAMS |= {
    "host_key": ("hostid", Kind.HOST),
    "physical_network_key": ("physicalnetworkid", Kind.PHYSICAL_NETWORK),
}


def _own_params(resource: Resource) -> dict[str, Value]:
    """The create parameters that come from the resource itself (names, fields, params)."""
    kind, key, fields = resource.kind, resource.key, resource.fields
    body: dict[str, Value] = {k: v for k, v in fields.items() if k not in _NOT_SENT.get(kind, frozenset())}
    body |= {k: v for k, v in resource.params.items() if k not in _KEYED_PARAMS and k != "ostype"}
    if kind is Kind.TRAFFIC_TYPE:
        body["traffictype"] = key[2]
    elif kind is Kind.IP_RANGE:
        start, _, end = key[2].partition("-")
        body |= {"startip": start, "endip": end, "forvirtualnetwork": True}
    elif kind is Kind.CLUSTER:
        body["clustername"] = key[2]
    elif kind is Kind.IMAGE_STORE:
        body |= {"name": key[1], "provider": "NFS"}
    elif kind is Kind.SERVICE_OFFERING:
        body |= {"name": key[0], "tags": fields.get("storagetags")}
    elif kind is Kind.DISK_OFFERING:
        body |= {"name": key[0], "customized": fields.get("iscustomized")}
    elif kind is not Kind.HOST:
        body["name"] = key[-1]
    return {name: value for name, value in body.items() if value not in (None, "")}


def create_steps(resource: Resource) -> list[Step]:
    """The steps that create ``resource`` and then switch it on or tune it, each in its phase."""
    phase, command, answer_key = CREATE_COMMANDS[resource.kind]
    own = _own_params(resource)

    def run(ctx: Context) -> None:
        params = dict(own)
        for name, kind, depth in _PARENTS.get(resource.kind, ()):
            params[name] = ctx.id_of(kind, resource.key[:depth])
        for name, (param, kind) in _KEYED_PARAMS.items():
            if resource.params.get(name):
                params[param] = ctx.id_of(kind, tuple(str(resource.params[name]).split("/")))
        if resource.kind in (Kind.TEMPLATE, Kind.ISO):
            params |= image_placement(ctx, resource)
        if resource.kind is Kind.NETWORK:
            params["networkofferingid"] = offering_id(ctx, resource)
        answer = ctx.call(command, **params)
        created = answer[answer_key]
        # addHost and addCluster answer a one-element list, as CloudStack does.
        ctx.remember(resource, str((created[0] if isinstance(created, list) else created)["id"]))

    steps = [Step(phase, f"create {resource.address}", run)]
    if resource.kind is Kind.HOST:
        steps.append(
            Step(
                Phase.HOST_UP,
                f"wait for {resource.address}",
                lambda ctx: ctx.wait_host(ctx.id_of(Kind.HOST, resource.key)),
            )
        )
    later = tuple(
        Change(name, None, resource.fields[name])
        for name in _NOT_SENT.get(resource.kind, ())
        if name in resource.fields
    )
    return steps + update_steps(resource, later, created=True)


def image_placement(ctx: Context, resource: Resource) -> dict[str, Value]:
    """The zones (``zoneid=-1`` for all, else ``zoneids``) and ``ostypeid`` a template or ISO registers with.

    Raises:
        ParamError: the server knows no OS type with the topology's description.
    """
    zones = resource.fields.get("zones", "all")
    if zones == "all":
        placement: dict[str, Value] = {"zoneid": "-1"}
    else:
        placement = {"zoneids": ",".join(ctx.id_of(Kind.ZONE, (name,)) for name in zones.split(","))}
    description = str(resource.params.get("ostype", ""))
    known = [
        item for item in ctx.list_all("listOsTypes", description=description) if item.get("description") == description
    ]
    if not known:
        raise ParamError(
            f"{resource.address}: the server knows no OS type {description!r}; "
            "pick a description that listOsTypes shows (os_type in the topology)"
        )
    return placement | {"ostypeid": str(known[0]["id"])}


def offering_id(ctx: Context, resource: Resource) -> str:
    """The id of the network offering a guest network names.

    Raises:
        ParamError: no offering has that name.
    """
    name = resource.fields["networkofferingname"]
    found = [item for item in ctx.list_all("listNetworkOfferings", name=name) if item.get("name") == name]
    if not found:
        raise ParamError(
            f"{resource.address}: no network offering is named {name!r}; "
            "declare it under network_offerings or use a stock one that listNetworkOfferings shows"
        )
    return str(found[0]["id"])


def enable_virtual_router(ctx: Context, network_id: str) -> None:
    """Configure and enable the network's VirtualRouter provider (element first, as CloudStack requires)."""
    for provider in ctx.list_all("listNetworkServiceProviders", physicalnetworkid=network_id, name=VIRTUAL_ROUTER):
        for element in ctx.list_all("listVirtualRouterElements", nspid=provider["id"]):
            if not element.get("enabled"):
                ctx.call("configureVirtualRouterElement", id=element["id"], enabled=True)
        if provider.get("state") != ENABLED:
            ctx.call("updateNetworkServiceProvider", id=provider["id"], state=ENABLED)


def update_steps(resource: Resource, changes: tuple[Change, ...], *, created: bool = False) -> list[Step]:
    """The steps that change ``resource`` in place (``created``: the follow-ups of its creation)."""
    kind, key = resource.kind, resource.key
    values = {change.field: change.new or "" for change in changes}
    what = f"{'configure' if created else 'update'} {resource.address}"

    def own(ctx: Context) -> str:
        return ctx.id_of(kind, key)

    def send(phase: Phase, command: str, **extra: Value) -> Step:
        def run(ctx: Context) -> None:
            ctx.call(command, id=own(ctx), **extra)

        return Step(phase, what, run)

    def setting(phase: Phase, name: str, value: str, scope: str) -> Step:
        # Scoped settings (over-provisioning factors) go through updateConfiguration, where CloudStack keeps them.
        def run(ctx: Context) -> None:
            ctx.call("updateConfiguration", name=name, value=value, **{scope: own(ctx)})

        return Step(phase, f"set {name}={value} on {resource.address}", run)

    plain = {name: value for name, value in values.items() if name not in _NOT_SENT.get(kind, frozenset())}
    steps: list[Step] = []
    if kind is Kind.ZONE:
        if plain:
            steps.append(send(Phase.ZONE, "updateZone", **plain))
        if "allocationstate" in values:
            step = send(Phase.ZONE_STATE, "updateZone", allocationstate=values["allocationstate"])
            steps.append(Step(step.phase, f"set {resource.address} {values['allocationstate']}", step.run))
    elif kind is Kind.PHYSICAL_NETWORK:
        if plain:
            steps.append(send(Phase.PHYSICAL_NETWORK, "updatePhysicalNetwork", **plain))
        if values.get("virtualrouter") == ENABLED:
            router = f"enable the {VIRTUAL_ROUTER} provider of {resource.address}"
            steps.append(Step(Phase.PROVIDER, router, lambda ctx: enable_virtual_router(ctx, own(ctx))))
        if "state" in values:
            step = send(Phase.PHYSICAL_NETWORK_STATE, "updatePhysicalNetwork", state=values["state"])
            steps.append(Step(step.phase, f"set {resource.address} {values['state']}", step.run))
    elif kind is Kind.TRAFFIC_TYPE and plain:
        steps.append(send(Phase.TRAFFIC_TYPE, "updateTrafficType", **plain))
    elif kind is Kind.POD and plain:
        steps.append(send(Phase.POD, "updatePod", **plain))
    elif kind is Kind.CLUSTER:
        steps.extend(setting(Phase.CLUSTER_SETTINGS, name, value, "clusterid") for name, value in values.items())
    elif kind is Kind.HOST and "hosttags" in values:
        steps.append(send(Phase.HOST, "updateHost", hosttags=values["hosttags"]))
    elif kind is Kind.STORAGE_POOL:
        if "tags" in values and not created:
            steps.append(send(Phase.STORAGE_POOL, "updateStoragePool", tags=values["tags"]))
        factor = values.get("storage.overprovisioning.factor")
        if factor:
            steps.append(setting(Phase.STORAGE_POOL, "storage.overprovisioning.factor", factor, "storageid"))
    elif kind is Kind.SERVICE_OFFERING and values and not created:
        steps.append(send(Phase.OFFERING, "updateServiceOffering", **values))
    elif kind is Kind.DISK_OFFERING and values and not created:
        steps.append(send(Phase.OFFERING, "updateDiskOffering", **values))
    elif kind is Kind.NETWORK_OFFERING and values:
        steps.append(send(Phase.OFFERING, "updateNetworkOffering", **values))
    elif kind is Kind.NETWORK and values and not created:
        steps.append(send(Phase.NETWORK, "updateNetwork", **values))
    elif kind in (Kind.TEMPLATE, Kind.ISO) and not created:
        noun = "Template" if kind is Kind.TEMPLATE else "Iso"
        sharing = {name: values.pop(name) for name in ("ispublic", "isfeatured", "isextractable") if name in values}
        if values:
            steps.append(send(Phase.IMAGE, f"update{noun}", **values))
        if sharing:
            steps.append(send(Phase.IMAGE, f"update{noun}Permissions", **sharing))
    return steps


def delete_step(resource: Resource) -> Step:
    """The step that deletes an observed object (a host goes into maintenance first, as CloudStack requires)."""
    assert resource.id is not None
    object_id = resource.id

    def run(ctx: Context) -> None:
        if resource.kind is Kind.HOST:
            ctx.call("prepareHostForMaintenance", id=object_id)
            ctx.wait_host(object_id, resource_state="Maintenance")
        ctx.call(DELETE_COMMANDS[resource.kind], id=object_id)

    return Step(Phase.ZONE, f"delete {resource.address}", run)
