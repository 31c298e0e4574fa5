"""The root of a topology document: one file describes one cloud."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from provisioner.model.base import Name, StrictModel
from provisioner.model.credentials import CredentialRef
from provisioner.model.images import Iso, Template
from provisioner.model.infrastructure import Cluster, Host, Pod, Region, StorageServer, Zone
from provisioner.model.network import GuestNetwork
from provisioner.model.offerings import DiskOffering, NetworkOffering, ServiceOffering


class AnsibleSettings(StrictModel):
    """How Ansible reaches the machines of this cloud (hosts and servers may override the user and port)."""

    ssh_user: str = "root"
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_private_key: CredentialRef | None = Field(default=None, description="Private key, as a file or vault ref.")
    become: bool = False
    python_interpreter: str = "auto_silent"
    vault_password: CredentialRef | None = Field(
        default=None, description="Where the Ansible Vault password is (for vault credential references)."
    )


class Cloud(StrictModel):
    """A whole cloud: its regions, zones (with pods, clusters, hosts, storage), offerings and images."""

    version: Literal[1] = 1
    name: Name
    ansible: AnsibleSettings = Field(default_factory=AnsibleSettings)
    regions: list[Region] = Field(min_length=1)
    zones: list[Zone] = Field(default_factory=list)
    storage_servers: list[StorageServer] = Field(default_factory=list)
    service_offerings: list[ServiceOffering] = Field(default_factory=list)
    disk_offerings: list[DiskOffering] = Field(default_factory=list)
    network_offerings: list[NetworkOffering] = Field(default_factory=list)
    networks: list[GuestNetwork] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)
    isos: list[Iso] = Field(default_factory=list)

    def iter_hosts(self) -> Iterator[HostPlace]:
        """Every host with its place in the hierarchy, in document order."""
        for zi, zone in enumerate(self.zones):
            for pi, pod in enumerate(zone.pods):
                for ci, cluster in enumerate(pod.clusters):
                    for hi, host in enumerate(cluster.hosts):
                        yield HostPlace(zone, pod, cluster, host, (zi, pi, ci, hi))

    def iter_clusters(self) -> Iterator[tuple[Zone, Pod, Cluster]]:
        """Every cluster with its zone and pod, in document order."""
        for zone in self.zones:
            for pod in zone.pods:
                for cluster in pod.clusters:
                    yield zone, pod, cluster


@dataclass(frozen=True, slots=True)
class HostPlace:
    """A host with the zone, pod and cluster it sits in, and its list indexes in the document."""

    zone: Zone
    pod: Pod
    cluster: Cluster
    host: Host
    index: tuple[int, int, int, int]

    @property
    def path(self) -> str:
        """Document path of the host, e.g. ``zones[0].pods[1].clusters[0].hosts[3]``."""
        zi, pi, ci, hi = self.index
        return f"zones[{zi}].pods[{pi}].clusters[{ci}].hosts[{hi}]"

    @property
    def hypervisor(self) -> str:
        """The host's hypervisor (its own, else its cluster's)."""
        return str((self.host.hypervisor or self.cluster.hypervisor).value)
