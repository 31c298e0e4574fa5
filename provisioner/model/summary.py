"""Counts that describe a topology at a glance (what ``provisioner validate`` prints)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from provisioner.model.topology import Cloud


def summarize(cloud: Cloud) -> dict[str, Any]:
    """Count the objects of a cloud.

    Args:
        cloud: a validated topology.

    Returns:
        A JSON-ready mapping: plain counts, plus ``hosts_by_hypervisor`` and
        ``storage_pools_by_protocol`` breakdowns (keys sorted, so output is stable).
    """
    hosts_by_hypervisor: Counter[str] = Counter(place.hypervisor for place in cloud.iter_hosts())
    pools_by_protocol: Counter[str] = Counter(
        pool.protocol.value for zone in cloud.zones for pool in zone.primary_storage
    )
    return {
        "name": cloud.name,
        "regions": len(cloud.regions),
        "management_servers": sum(len(region.management_servers) for region in cloud.regions),
        "zones": len(cloud.zones),
        "pods": sum(len(zone.pods) for zone in cloud.zones),
        "clusters": sum(1 for _ in cloud.iter_clusters()),
        "hosts": sum(hosts_by_hypervisor.values()),
        "hosts_by_hypervisor": dict(sorted(hosts_by_hypervisor.items())),
        "storage_pools": sum(pools_by_protocol.values()),
        "storage_pools_by_protocol": dict(sorted(pools_by_protocol.items())),
        "image_stores": sum(len(zone.image_stores) for zone in cloud.zones),
        "storage_servers": len(cloud.storage_servers),
        "physical_networks": sum(len(zone.physical_networks) for zone in cloud.zones),
        "networks": len(cloud.networks),
        "service_offerings": len(cloud.service_offerings),
        "disk_offerings": len(cloud.disk_offerings),
        "templates": len(cloud.templates),
        "isos": len(cloud.isos),
    }
