"""Builders for infrastructure tests: a simulated zone with a pod, cluster, hosts and storage."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from provisioner.services.infrastructure import clusters, hosts, image_stores, pods, storage_pools, zones
from provisioner.services.principal import Caller

GIB = 1 << 30


@dataclass(frozen=True)
class SimZone:
    """The public ids of a small simulated zone."""

    zone: str
    pod: str
    cluster: str
    hosts: tuple[str, ...]


def sim_zone(conn: Connection, admin: Caller, name: str = "z1", host_count: int = 2) -> SimZone:
    """A zone with one pod, one Simulator cluster and ``host_count`` default simulated hosts."""
    zone = zones.create_zone(conn, admin, name=name, networktype="Advanced", dns1="8.8.8.8", internaldns1="10.0.0.2")
    pod = pods.create_pod(
        conn,
        admin,
        zoneid=zone["id"],
        name=f"{name}-pod",
        gateway="10.0.0.1",
        netmask="255.255.255.0",
        startip="10.0.0.10",
        endip="10.0.0.99",
    )
    cluster = clusters.add_cluster(
        conn, admin, zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1", hypervisor="Simulator"
    )[0]
    added = [
        hosts.add_host(
            conn,
            admin,
            zoneid=zone["id"],
            podid=pod["id"],
            clusterid=cluster["id"],
            hypervisor="Simulator",
            url=f"http://sim/{name}-c1/h{index}",
        )[0]["id"]
        for index in range(host_count)
    ]
    return SimZone(zone["id"], pod["id"], cluster["id"], tuple(added))


def add_pool(conn: Connection, admin: Caller, sim: SimZone, name: str = "ps1", size: int | None = None) -> str:
    """An NFS pool in the zone's cluster; returns its id."""
    pool = storage_pools.create_storage_pool(
        conn,
        admin,
        zoneid=sim.zone,
        podid=sim.pod,
        clusterid=sim.cluster,
        name=name,
        url=f"nfs://198.18.0.5/export/{name}",
        capacitybytes=size,
    )
    return str(pool["id"])


def add_store(conn: Connection, admin: Caller, sim: SimZone, name: str = "ss1") -> str:
    """An NFS image store in the zone; returns its id."""
    store = image_stores.add_image_store(
        conn, admin, provider="NFS", url=f"nfs://198.18.0.6/export/{name}", zoneid=sim.zone, name=name
    )
    return str(store["id"])
