"""Duplicate names, at every level where CloudStack or the inventory needs them unique."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from provisioner.config.rules.base import Document, Finding, Place, format_loc, text

_MACHINES = {"hosts": "host", "management_servers": "management server", "storage_servers": "storage server"}


def _duplicates(items: Iterable[Place], what: str | None, scope: str) -> Iterator[Finding]:
    seen: dict[str, Place] = {}
    for item in items:
        name = text(item.data, "name")
        if name is None:
            continue
        first = seen.setdefault(name, item)
        if first is not item:
            kind = what or _MACHINES[str(item.loc[-2])]
            yield Finding(
                item.at("name"),
                f"{kind} name {name!r} is already used by {format_loc(first.loc)}: "
                f"{what or 'host and server'} names must be unique {scope}; rename one of them",
            )


def duplicate_names(doc: Document) -> Iterator[Finding]:
    """Names that must be unique in the cloud, in their zone, pod or kind."""
    yield from _duplicates(doc.regions, "region", "in the cloud")
    yield from _duplicates(doc.zones, "zone", "in the cloud")
    for zone in doc.zones:
        for key, what in (
            ("pods", "pod"),
            ("physical_networks", "physical network"),
            ("primary_storage", "primary storage"),
            ("image_stores", "image store"),
        ):
            yield from _duplicates(doc.below([zone], key), what, "within a zone")
    for pod in doc.pods:
        yield from _duplicates(doc.below([pod], "clusters"), "cluster", "within a pod")
    for key, what in (
        ("service_offerings", "service offering"),
        ("disk_offerings", "disk offering"),
        ("network_offerings", "network offering"),
        ("networks", "network"),
        ("templates", "template"),
        ("isos", "ISO"),
    ):
        yield from _duplicates(doc.top(key), what, "in the cloud")


def duplicate_hostnames(doc: Document) -> Iterator[Finding]:
    """Hosts, management servers and storage servers become inventory hostnames: one namespace."""
    machines = [
        *doc.below(doc.regions, "management_servers"),
        *doc.top("storage_servers"),
        *doc.hosts,
    ]
    yield from _duplicates(machines, None, "in the whole cloud (they are Ansible inventory hostnames)")
