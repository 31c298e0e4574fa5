"""Primary storage and image stores: scope, protocol fields and the servers they name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from provisioner.config.rules.base import Document, Finding, Place, did_you_mean, hypervisor, ip_int, lowered, text

#: Hypervisors CloudStack lets use zone-wide primary storage.
ZONE_WIDE_HYPERVISORS = ("kvm", "vmware", "hyperv", "simulator")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}$")


def effective_scope(data: dict[str, Any]) -> str:
    """The scope given, or the one ``PrimaryStorage.effective_scope`` implies."""
    scope = lowered(data, "scope")
    if scope is not None:
        return scope
    if lowered(data, "protocol") == "local":
        return "host"
    return "zone" if data.get("hypervisor") is not None else "cluster"


def _scope(zone: Place, pool: Place, doc: Document, hosts: set[str]) -> Iterator[Finding]:
    data = pool.data
    scope = effective_scope(data)
    if scope == "zone":
        kind = hypervisor(data.get("hypervisor"))
        if data.get("hypervisor") is None:
            yield Finding(pool.at("hypervisor"), "a zone-scope pool needs hypervisor: add hypervisor: kvm (or another)")
        elif kind is not None and kind not in ZONE_WIDE_HYPERVISORS:
            yield Finding(
                pool.at("hypervisor"),
                f"{kind} cannot use zone-wide primary storage (only {', '.join(ZONE_WIDE_HYPERVISORS)} can): "
                "use scope: cluster with cluster: <name>",
            )
    elif scope == "cluster":
        yield from _cluster_scope(zone, pool, doc)
    elif scope == "host":
        host = text(data, "host")
        if host is None:
            yield Finding(pool.at("host"), "a host-scope pool needs host: the name of a host of this zone")
        elif host not in hosts:
            yield Finding(
                pool.at("host"),
                f"host {host!r} is not a host of zone {text(zone.data, 'name')!r}: name one of its hosts",
                did_you_mean(host, hosts),
            )


def _cluster_scope(zone: Place, pool: Place, doc: Document) -> Iterator[Finding]:
    data = pool.data
    zone_name = text(zone.data, "name")
    pods = {name: pod for pod in doc.below([zone], "pods") if (name := text(pod.data, "name"))}
    pod_name = text(data, "pod")
    if pod_name is not None and pod_name not in pods:
        yield Finding(
            pool.at("pod"),
            f"pod {pod_name!r} is not a pod of zone {zone_name!r}: name one of its pods",
            did_you_mean(pod_name, pods),
        )
        return
    owners = [pods[pod_name]] if pod_name is not None else list(pods.values())
    clusters = [name for cluster in doc.below(owners, "clusters") if (name := text(cluster.data, "name"))]
    cluster = text(data, "cluster")
    where = f"pod {pod_name!r}" if pod_name is not None else f"zone {zone_name!r}"
    if cluster is None:
        yield Finding(pool.at("cluster"), f"a cluster-scope pool needs cluster: the name of a cluster of {where}")
    elif cluster not in clusters:
        yield Finding(
            pool.at("cluster"),
            f"cluster {cluster!r} is not a cluster of {where}: name one of its clusters, "
            "or use scope: zone with a hypervisor",
            did_you_mean(cluster, clusters),
        )


_NEEDS = {"nfs": ("server", "path"), "iscsi": ("server", "iqn", "lun"), "fc": ("path",), "local": ()}
_EXAMPLES = {"server": "storage-1", "path": "/export/primary", "iqn": "iqn.2024-01.org.example:pool1", "lun": "0"}


def _protocol(pool: Place) -> Iterator[Finding]:
    data = pool.data
    protocol = lowered(data, "protocol")
    if protocol not in _NEEDS:
        return
    for key in _NEEDS[protocol]:
        if data.get(key) is None:
            yield Finding(pool.at(key), f"an {protocol} pool needs {key}: add {key}: {_EXAMPLES[key]}")
    path = text(data, "path")
    if protocol in ("nfs", "fc", "local") and path is not None and not path.startswith("/"):
        yield Finding(pool.at("path"), f"path {path!r} is not absolute: write it from the root, like /{path}")
    if protocol == "local" and effective_scope(data) != "host":
        message = "local storage belongs to one host: use scope: host (or leave scope out) with host: <name>"
        yield Finding(pool.at("scope"), message)


def primary_storage(doc: Document) -> Iterator[Finding]:
    """Each pool has a scope its hypervisor supports, names places that exist, and its protocol's fields."""
    hosts: dict[int, set[str]] = {id(zone): set() for zone in doc.zones}  # host names of each zone
    for host in doc.hosts:
        if (name := text(host.data, "name")) is not None:
            hosts[id(host.up(3))].add(name)
    for zone in doc.zones:
        for pool in doc.below([zone], "primary_storage"):
            yield from _protocol(pool)
            yield from _scope(zone, pool, doc, hosts[id(zone)])
            if lowered(pool.data, "protocol") == "local" and zone.data.get("local_storage_enabled") is not True:
                yield Finding(
                    pool.at("protocol"),
                    f"zone {text(zone.data, 'name')!r} does not enable local storage, so CloudStack would not use "
                    "this pool: set local_storage_enabled: true on the zone",
                )


def storage_servers(doc: Document) -> Iterator[Finding]:
    """A ``server`` is a storage server of the file, an IP address or a dotted DNS name."""
    known = {name for server in doc.top("storage_servers") if (name := text(server.data, "name"))}
    stores = doc.below(doc.zones, "image_stores")
    for item in [*doc.below(doc.zones, "primary_storage"), *stores]:
        server = text(item.data, "server")
        if server is None or server in known or ip_int(server) is not None or ":" in server:
            continue
        if _DNS_NAME.match(server):
            continue
        yield Finding(
            item.at("server"),
            f"server {server!r} is not a storage server of this file, an IP address or a DNS name: "
            "define it under storage_servers or write its address",
            did_you_mean(server, known),
        )
