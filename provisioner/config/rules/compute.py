"""Clusters and their hosts: one hypervisor per cluster and what each hypervisor needs."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.config.rules.base import Document, Finding, did_you_mean, format_loc, hypervisor, text


def host_hypervisor(doc: Document) -> Iterator[Finding]:
    """A host runs its cluster's hypervisor (CloudStack clusters are homogeneous)."""
    for host in doc.hosts:
        own = hypervisor(host.data.get("hypervisor"))
        if own is None:
            continue
        cluster = host.up(1)
        expected = hypervisor(cluster.data.get("hypervisor"))
        if expected is not None and own != expected:
            yield Finding(
                host.at("hypervisor"),
                f"hypervisor {own} differs from {expected} of its cluster {format_loc(cluster.loc)}: "
                "a cluster has one hypervisor; remove the key or move the host to a matching cluster",
            )


def host_ip(doc: Document) -> Iterator[Finding]:
    """Only simulator hosts may leave out ``ip``: every other host is reached over the network."""
    for host in doc.hosts:
        if host.data.get("ip") is not None:
            continue
        kind = hypervisor(host.data.get("hypervisor")) or hypervisor(host.up(1).data.get("hypervisor"))
        if kind is not None and kind != "simulator":
            yield Finding(
                host.at("ip"),
                f"a {kind} host needs an ip (only simulator hosts may leave it out): add ip: <management address>",
            )


def cluster_settings(doc: Document) -> Iterator[Finding]:
    """VMware clusters need their vCenter; a XenServer pool master is one of the cluster's hosts."""
    for cluster in doc.clusters:
        data = cluster.data
        kind = hypervisor(data.get("hypervisor"))
        if kind == "vmware" and data.get("vcenter") is None:
            yield Finding(
                cluster.at("vcenter"),
                "a vmware cluster needs vcenter: add vcenter: {host: ..., datacenter: ..., credentials: {env: ...}}",
            )
        elif kind not in (None, "vmware") and data.get("vcenter") is not None:
            yield Finding(cluster.at("vcenter"), f"vcenter is only for vmware clusters, not {kind}: remove it")
        master = text(data, "pool_master")
        if master is None:
            continue
        if kind not in (None, "xenserver"):
            message = f"pool_master is only for xenserver clusters, not {kind}: remove it"
            yield Finding(cluster.at("pool_master"), message)
            continue
        hosts = [name for host in doc.below([cluster], "hosts") if (name := text(host.data, "name"))]
        if master not in hosts:
            yield Finding(
                cluster.at("pool_master"),
                f"pool_master {master!r} is not a host of this cluster: name one of its hosts",
                did_you_mean(master, hosts),
            )
