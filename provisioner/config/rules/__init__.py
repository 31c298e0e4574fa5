"""Cross-object rules: each module checks one concern over the raw document and yields findings."""

from __future__ import annotations

from typing import Any

from provisioner.config.rules import addresses, compute, images, ips, names, networks, references, storage
from provisioner.config.rules.base import Document, Finding, Rule, format_loc

#: Every rule, run in this order. A rule is a function ``(Document) -> Iterable[Finding]``.
RULES: list[Rule] = [
    names.duplicate_names,
    names.duplicate_hostnames,
    references.region_and_zone_references,
    addresses.ranges,
    addresses.guest_cidr,
    ips.duplicate_ips,
    ips.host_in_pod_range,
    compute.host_hypervisor,
    compute.host_ip,
    compute.cluster_settings,
    storage.primary_storage,
    storage.storage_servers,
    networks.traffic,
    networks.public_vlans,
    networks.guest_vlans,
    networks.network_references,
    images.template_format,
    images.image_zones,
]


def run_rules(data: Any, rules: list[Rule] | None = None) -> list[Finding]:
    """Run the rules over a raw document (as parsed from YAML, valid or not).

    Args:
        data: the parsed document.
        rules: the rules to run; all of ``RULES`` by default.

    Returns:
        Every finding, rule by rule in document order.
    """
    doc = Document.of(data)
    return [finding for rule in (RULES if rules is None else rules) for finding in rule(doc)]


__all__ = ["RULES", "Document", "Finding", "Rule", "format_loc", "run_rules"]
