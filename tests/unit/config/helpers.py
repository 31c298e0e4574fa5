"""A valid minimal topology that each test breaks in one place, and helpers to check the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.config import load_topology
from provisioner.exceptions import Issue, ModelError


def minimal() -> dict[str, Any]:
    """One region, one zone with one pod, one KVM cluster of two hosts, NFS storage, a guest network."""
    return {
        "name": "lab",
        "regions": [{"name": "r1", "management_servers": [{"name": "ms1", "ip": "198.18.0.2"}]}],
        "zones": [
            {
                "name": "z1",
                "region": "r1",
                "dns": ["198.18.0.53"],
                "internal_dns": ["198.18.0.54"],
                "guest_cidr": "10.1.0.0/16",
                "physical_networks": [
                    {
                        "name": "pn1",
                        "vlan_ranges": ["100-199"],
                        "traffic": [{"type": "management"}, {"type": "guest"}, {"type": "public"}],
                        "public_ip_ranges": [
                            {
                                "gateway": "198.18.2.1",
                                "netmask": "255.255.255.0",
                                "start_ip": "198.18.2.10",
                                "end_ip": "198.18.2.100",
                                "vlan": 50,
                            }
                        ],
                    }
                ],
                "pods": [
                    {
                        "name": "p1",
                        "gateway": "198.18.1.1",
                        "netmask": "255.255.255.0",
                        "start_ip": "198.18.1.10",
                        "end_ip": "198.18.1.50",
                        "clusters": [
                            {
                                "name": "c1",
                                "hypervisor": "kvm",
                                "hosts": [
                                    {
                                        "name": "h1",
                                        "ip": "198.18.1.101",
                                        "nics": {"pn1": "eth0"},
                                        "bmc": {"address": "198.18.3.101"},
                                    },
                                    {"name": "h2", "ip": "198.18.1.102"},
                                ],
                            }
                        ],
                    }
                ],
                "primary_storage": [
                    {
                        "name": "ps1",
                        "protocol": "nfs",
                        "scope": "zone",
                        "hypervisor": "kvm",
                        "server": "nfs1",
                        "path": "/export/primary",
                    }
                ],
                "image_stores": [{"name": "is1", "server": "nfs1", "path": "/export/secondary"}],
            }
        ],
        "storage_servers": [{"name": "nfs1", "ip": "198.18.0.10", "zone": "z1"}],
        "service_offerings": [{"name": "small", "cpu_number": 1, "cpu_speed": 1000, "memory": 1024}],
        "disk_offerings": [{"name": "20GB", "disk_size": 20}],
        "network_offerings": [{"name": "custom-shared", "guest_ip_type": "Shared"}],
        "networks": [
            {
                "name": "shared1",
                "zone": "z1",
                "offering": "DefaultSharedNetworkOffering",
                "physical_network": "pn1",
                "vlan": 150,
                "gateway": "198.18.4.1",
                "netmask": "255.255.255.0",
                "start_ip": "198.18.4.10",
                "end_ip": "198.18.4.100",
            }
        ],
        "templates": [
            {
                "name": "debian-12",
                "url": "http://198.18.0.80/debian-12.qcow2",
                "format": "qcow2",
                "hypervisor": "kvm",
                "os_type": "Debian GNU/Linux 12 (64-bit)",
                "zones": ["z1"],
            }
        ],
        "isos": [{"name": "tools", "url": "http://198.18.0.80/tools.iso", "os_type": "Other", "zones": "all"}],
    }


def at(text: str, needle: str, nth: int = 1) -> str:
    """``line:column`` of the ``nth`` occurrence of ``needle``; a ``^`` in it marks the exact column."""
    mark = needle.index("^") if "^" in needle else 0
    plain = needle.replace("^", "")
    index = -1
    for _ in range(nth):
        index = text.index(plain, index + 1)
    index += mark
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


class Checker:
    """Writes a document to ``cloud.yaml`` and returns the problems the loader reports."""

    def __init__(self, directory: Path) -> None:
        self.file = directory / "cloud.yaml"
        self.text = ""

    def write(self, doc: dict[str, Any] | str) -> Path:
        """Write a document (data is dumped block-style, in key order)."""
        self.text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False, width=200)
        self.file.write_text(self.text, encoding="utf-8")
        return self.file

    def issues(self, doc: dict[str, Any] | str) -> list[Issue]:
        """Every issue of an invalid document."""
        with pytest.raises(ModelError) as caught:
            load_topology(self.write(doc))
        return caught.value.issues

    def lines(self, doc: dict[str, Any] | str) -> list[str]:
        """Every issue, formatted."""
        return [issue.format() for issue in self.issues(doc)]

    def expect(self, doc: dict[str, Any] | str, needle: str, path: str, message: str, nth: int = 1) -> None:
        """Assert the document has exactly one issue, at ``needle``, with this path and message (and hint)."""
        lines = self.lines(doc)
        assert lines == [f"{self.file}:{at(self.text, needle, nth)}: {path}: {message}"]


def host(doc: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """A host of the first cluster."""
    result: dict[str, Any] = doc["zones"][0]["pods"][0]["clusters"][0]["hosts"][index]
    return result


def zone(doc: dict[str, Any]) -> dict[str, Any]:
    """The zone."""
    result: dict[str, Any] = doc["zones"][0]
    return result


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod."""
    result: dict[str, Any] = doc["zones"][0]["pods"][0]
    return result


def cluster(doc: dict[str, Any]) -> dict[str, Any]:
    """The cluster."""
    result: dict[str, Any] = doc["zones"][0]["pods"][0]["clusters"][0]
    return result
