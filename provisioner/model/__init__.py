"""Pydantic models of the topology (no I/O). Load a file with ``provisioner.config.load_topology``."""

from provisioner.model.base import HypervisorType, parse_size
from provisioner.model.credentials import CredentialRef
from provisioner.model.images import FORMATS_BY_HYPERVISOR, ImageFormat, Iso, Template
from provisioner.model.infrastructure import (
    Bmc,
    Cluster,
    Host,
    IscsiBackend,
    ManagementServer,
    NetworkType,
    NfsBackend,
    Pod,
    Region,
    StorageServer,
    VCenter,
    Zone,
)
from provisioner.model.network import (
    GuestNetwork,
    GuestNetworkType,
    IpRange,
    PhysicalNetwork,
    Traffic,
    TrafficKind,
)
from provisioner.model.offerings import DiskOffering, NetworkOffering, ServiceOffering
from provisioner.model.storage import ImageStore, PrimaryStorage, StorageProtocol, StorageScope
from provisioner.model.topology import AnsibleSettings, Cloud, HostPlace

__all__ = [
    "FORMATS_BY_HYPERVISOR",
    "AnsibleSettings",
    "Bmc",
    "Cloud",
    "Cluster",
    "CredentialRef",
    "DiskOffering",
    "GuestNetwork",
    "GuestNetworkType",
    "Host",
    "HostPlace",
    "HypervisorType",
    "ImageFormat",
    "ImageStore",
    "IpRange",
    "IscsiBackend",
    "Iso",
    "ManagementServer",
    "NetworkOffering",
    "NetworkType",
    "NfsBackend",
    "PhysicalNetwork",
    "Pod",
    "PrimaryStorage",
    "Region",
    "ServiceOffering",
    "StorageProtocol",
    "StorageScope",
    "StorageServer",
    "Template",
    "Traffic",
    "TrafficKind",
    "VCenter",
    "Zone",
    "parse_size",
]
