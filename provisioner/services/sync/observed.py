"""Observed state: what the server holds, read with one list call per kind, and parsed by a pure function.

Scope: only objects inside the zones given (by name) are parsed, so objects of other zones never
appear in a plan and are never deleted. Offerings are global; every non-system offering is read, and
the plan compares only those the topology names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from provisioner.client import CloudStackClient, Json
from provisioner.services.sync.desired import ENABLED, VIRTUAL_ROUTER, csv, flag, ratio
from provisioner.services.sync.model import Kind, Resource

#: The raw answers sync reads: list name to the server's objects (JSON-ready; golden fixtures use it).
RawState = dict[str, list[Json]]

#: ``RawState`` key → (command, filters). ``traffic_types`` is read per physical network (the API needs one).
LISTS: dict[str, tuple[str, dict[str, str]]] = {
    "zones": ("listZones", {}),
    "physical_networks": ("listPhysicalNetworks", {}),
    "providers": ("listNetworkServiceProviders", {"name": VIRTUAL_ROUTER}),
    "router_elements": ("listVirtualRouterElements", {}),
    "pods": ("listPods", {}),
    "ip_ranges": ("listVlanIpRanges", {}),
    "clusters": ("listClusters", {}),
    "hosts": ("listHosts", {"type": "Routing"}),
    "storage_pools": ("listStoragePools", {}),
    "image_stores": ("listImageStores", {}),
    "service_offerings": ("listServiceOfferings", {}),
    "disk_offerings": ("listDiskOfferings", {}),
    "network_offerings": ("listNetworkOfferings", {}),
    "networks": ("listNetworks", {}),
    # The admin's own images: templates and ISOs other accounts registered are never the topology's.
    "templates": ("listTemplates", {"templatefilter": "self"}),
    "isos": ("listIsos", {"isofilter": "self"}),
}


def read_state(client: CloudStackClient, zone_names: Collection[str]) -> RawState:
    """Read the server: one paged list per kind, plus ``listTrafficTypes`` per managed physical network.

    Args:
        client: the API client.
        zone_names: the managed zones (traffic types are read only for their physical networks).
    """
    raw: RawState = {name: client.list_all(command, **filters) for name, (command, filters) in LISTS.items()}
    managed = {zone["id"] for zone in raw["zones"] if zone.get("name") in zone_names}
    raw["traffic_types"] = [
        item
        for network in raw["physical_networks"]
        if network.get("zoneid") in managed
        for item in client.list_all("listTrafficTypes", physicalnetworkid=network["id"])
    ]
    return raw


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value)


def _pick(item: Json, names: Iterable[str]) -> dict[str, str]:
    return {name: _text(item.get(name)) for name in names}


def parse_state(raw: RawState, zone_names: Collection[str]) -> list[Resource]:
    """The server's objects as resources (pure: no I/O), limited to the zones named.

    Args:
        raw: the answers :func:`read_state` collected (or a fixture).
        zone_names: the managed zones.
    """
    zones = {z["id"]: z["name"] for z in raw.get("zones", []) if z.get("name") in zone_names}
    out: list[Resource] = []
    for item in raw.get("zones", []):
        if item["id"] in zones:
            fields = _pick(item, ("networktype", "dns1", "dns2", "internaldns1", "internaldns2", "allocationstate"))
            fields |= _pick(item, ("guestcidraddress", "domain"))
            fields["localstorageenabled"] = flag(item.get("localstorageenabled"))
            out.append(Resource(Kind.ZONE, (item["name"],), fields, id=item["id"]))
    networks = {
        n["id"]: (zones[n["zoneid"]], n["name"]) for n in raw.get("physical_networks", []) if n.get("zoneid") in zones
    }
    out.extend(_physical_networks(raw, networks))
    for item in raw.get("traffic_types", []):
        network = networks.get(item.get("physicalnetworkid", ""))
        if network is not None:
            labels = ("kvmnetworklabel", "vmwarenetworklabel", "xennetworklabel", "hypervnetworklabel")
            key = (*network, str(item["traffictype"]))
            out.append(Resource(Kind.TRAFFIC_TYPE, key, _pick(item, labels), id=item["id"]))
    pods = {p["id"]: (zones[p["zoneid"]], p["name"]) for p in raw.get("pods", []) if p.get("zoneid") in zones}
    for item in raw.get("pods", []):
        if item["id"] in pods:
            fields = _pick(item, ("gateway", "netmask", "startip", "endip"))
            out.append(Resource(Kind.POD, pods[item["id"]], fields, id=item["id"]))
    out.extend(_ip_ranges(raw, zones, networks))
    clusters: dict[str, tuple[str, ...]] = {}
    for item in raw.get("clusters", []):
        pod = pods.get(item.get("podid", ""))
        if pod is not None:
            clusters[item["id"]] = key = (*pod, item["name"])
            fields = {
                "hypervisor": _text(item.get("hypervisortype")),
                "cpu.overprovisioning.factor": ratio(item.get("cpuovercommitratio") or 1),
                "mem.overprovisioning.factor": ratio(item.get("memoryovercommitratio") or 1),
            }
            out.append(Resource(Kind.CLUSTER, key, fields, id=item["id"]))
    for item in raw.get("hosts", []):
        cluster = clusters.get(item.get("clusterid", ""))
        if cluster is not None and item.get("type", "Routing") == "Routing":
            aliases = ((*cluster, item["ipaddress"]),) if item.get("ipaddress") else ()
            fields = {"hosttags": csv(item.get("hosttags")), "state": _text(item.get("state"))}
            out.append(Resource(Kind.HOST, (*cluster, item["name"]), fields, id=item["id"], aliases=aliases))
    out.extend(_stores(raw, zones))
    out.extend(_offerings(raw))
    out.extend(_networks(raw, zones))
    out.extend(_images(raw))
    return out


def _physical_networks(raw: RawState, networks: dict[str, tuple[str, str]]) -> list[Resource]:
    providers = {p["physicalnetworkid"]: p for p in raw.get("providers", []) if p.get("name") == VIRTUAL_ROUTER}
    elements = {e["nspid"]: bool(e.get("enabled")) for e in raw.get("router_elements", [])}
    out = []
    for item in raw.get("physical_networks", []):
        if item["id"] not in networks:
            continue
        provider = providers.get(item["id"])
        # The provider counts as enabled only with its element configured, as the zone-build order leaves it.
        ready = provider is not None and provider.get("state") == ENABLED and elements.get(provider["id"], False)
        fields = _pick(item, ("isolationmethods", "state", "vlan"))
        fields |= {"tags": csv(item.get("tags")), "virtualrouter": ENABLED if ready else "Disabled"}
        out.append(Resource(Kind.PHYSICAL_NETWORK, networks[item["id"]], fields, id=item["id"]))
    return out


def _ip_ranges(raw: RawState, zones: dict[str, str], networks: dict[str, tuple[str, str]]) -> list[Resource]:
    out = []
    for item in raw.get("ip_ranges", []):
        # Only public ranges are the topology's; pod and shared-network ranges belong to other objects.
        if item.get("zoneid") not in zones or not item.get("forvirtualnetwork"):
            continue
        network = networks.get(item.get("physicalnetworkid") or "", (zones[item["zoneid"]], ""))
        vlan = _text(item.get("vlan")).removeprefix("vlan://") or "untagged"
        fields = {"gateway": _text(item.get("gateway")), "netmask": _text(item.get("netmask")), "vlan": vlan}
        key = (*network, f"{item['startip']}-{item['endip']}")
        out.append(Resource(Kind.IP_RANGE, key, fields, id=item["id"]))
    return out


def _stores(raw: RawState, zones: dict[str, str]) -> list[Resource]:
    out = []
    for item in raw.get("storage_pools", []):
        if item.get("zoneid") in zones:
            fields = {"scope": _text(item.get("scope")).upper(), "path": _text(item.get("path"))}
            fields |= {"tags": csv(item.get("tags"))}
            if item.get("overprovisionfactor") is not None:
                fields["storage.overprovisioning.factor"] = ratio(item["overprovisionfactor"])
            out.append(Resource(Kind.STORAGE_POOL, (zones[item["zoneid"]], item["name"]), fields, id=item["id"]))
    for item in raw.get("image_stores", []):
        if item.get("zoneid") in zones:
            key = (zones[item["zoneid"]], item["name"])
            out.append(Resource(Kind.IMAGE_STORE, key, {"url": _text(item.get("url"))}, id=item["id"]))
    return out


def _offerings(raw: RawState) -> list[Resource]:
    out = []
    for item in raw.get("service_offerings", []):
        if item.get("issystem"):
            continue
        fields = _pick(item, ("displaytext", "cpunumber", "cpuspeed", "memory", "storagetype", "deploymentplanner"))
        fields |= {name: flag(item.get(name)) for name in ("offerha", "limitcpuuse")}
        fields |= {name: csv(item.get(name)) for name in ("hosttags", "storagetags")}
        out.append(Resource(Kind.SERVICE_OFFERING, (item["name"],), fields, id=item["id"]))
    for item in raw.get("disk_offerings", []):
        fields = _pick(item, ("displaytext", "disksize", "storagetype", "provisioningtype"))
        fields |= {"iscustomized": flag(item.get("iscustomized")), "tags": csv(item.get("tags"))}
        out.append(Resource(Kind.DISK_OFFERING, (item["name"],), fields, id=item["id"]))
    return out


#: Per image kind: the raw list and the fields compared besides ``zones``.
_IMAGE_FIELDS: dict[Kind, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    Kind.TEMPLATE: (
        "templates",
        ("displaytext", "url", "format", "hypervisor", "checksum"),
        ("ispublic", "isfeatured", "isextractable", "passwordenabled", "sshkeyenabled"),
    ),
    Kind.ISO: ("isos", ("displaytext", "url", "checksum"), ("bootable", "ispublic", "isfeatured")),
}


def _images(raw: RawState) -> list[Resource]:
    """Templates and ISOs: the server lists one row per (image, zone); sync compares one object per image."""
    out = []
    for kind, (list_name, texts, flags) in _IMAGE_FIELDS.items():
        rows_by_id: dict[str, list[Json]] = {}
        for item in raw.get(list_name, []):
            if kind is Kind.TEMPLATE and item.get("templatetype", "USER") != "USER":
                continue  # builtin and system templates belong to the server
            rows_by_id.setdefault(item["id"], []).append(item)
        for rows in rows_by_id.values():
            first = rows[0]
            zones = "all" if first.get("crossZones") else csv(row.get("zonename") or "" for row in rows)
            fields = _pick(first, texts) | {name: flag(first.get(name)) for name in flags} | {"zones": zones}
            out.append(Resource(kind, (first["name"],), fields, id=first["id"]))
    return out


def _networks(raw: RawState, zones: dict[str, str]) -> list[Resource]:
    """Network offerings (global) and the guest networks of the managed zones."""
    out = []
    for item in raw.get("network_offerings", []):
        fields = _pick(item, ("displaytext", "guestiptype", "state"))
        fields["supportedservices"] = csv(service.get("name", "") for service in item.get("service") or [])
        out.append(Resource(Kind.NETWORK_OFFERING, (item["name"],), fields, id=item["id"]))
    for item in raw.get("networks", []):
        if item.get("zoneid") in zones:
            fields = _pick(item, ("displaytext", "type", "networkofferingname", "gateway", "netmask"))
            fields["vlan"] = _text(item.get("vlan") or item.get("broadcasturi")).removeprefix("vlan://")
            out.append(Resource(Kind.NETWORK, (zones[item["zoneid"]], item["name"]), fields, id=item["id"]))
    return out
