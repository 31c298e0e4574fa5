"""The physical hierarchy: regions > zones > pods > clusters > hosts, and storage servers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from provisioner.model.base import (
    CIDR,
    HostAddress,
    Hypervisor,
    IPv4,
    Name,
    Netmask,
    StrictModel,
    Tags,
    case_insensitive,
)
from provisioner.model.credentials import CredentialRef
from provisioner.model.network import PhysicalNetwork
from provisioner.model.storage import ImageStore, PrimaryStorage

#: An OpenSSH public key line: ``<type> <base64> [comment]`` (public, never a secret).
SshPublicKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*( [^\n]*)?$",
    ),
]


class ManagementServer(StrictModel):
    """A machine that runs ``provisioner serve`` for a region."""

    name: Name
    ip: IPv4
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port of the CloudStack API.")
    ssh_user: str | None = Field(default=None, description="Overrides ansible.ssh_user for this machine.")
    database: CredentialRef | None = Field(
        default=None, description="Reference to the database URL (it may hold a password)."
    )
    ssh_public_key: SshPublicKey | None = Field(
        default=None,
        description="The server's public ssh key (`provisioner admin ssh-key` prints it): authorized on the "
        "region's KVM hosts, so the server reaches their libvirt over qemu+ssh.",
    )


class Region(StrictModel):
    """A CloudStack region: a set of zones served by one or more management servers."""

    name: Name
    id: int = Field(default=1, ge=1, description="CloudStack region id; the local region is 1.")
    endpoint: str | None = Field(default=None, description="Public API URL of the region.")
    management_servers: list[ManagementServer] = Field(min_length=1)


class Bmc(StrictModel):
    """Out-of-band power control of a host."""

    address: IPv4
    type: Literal["ipmi", "redfish"] = "ipmi"
    credentials: CredentialRef | None = None


class Host(StrictModel):
    """A hypervisor host. ``hypervisor`` defaults to, and must equal, its cluster's."""

    name: Name
    ip: IPv4 | None = Field(default=None, description="Management IP; optional only for simulator hosts.")
    hypervisor: Hypervisor | None = None
    url: str | None = Field(default=None, description="addHost URL; derived from ip or the simulator path if unset.")
    credentials: CredentialRef | None = Field(default=None, description="Hypervisor login (root on KVM, ESXi, XAPI).")
    bmc: Bmc | None = None
    tags: Tags
    nics: dict[str, str] = Field(
        default_factory=dict, description="Physical network name -> host NIC carrying it (enslaved to the bridge)."
    )
    ssh_user: str | None = None
    ssh_port: int | None = Field(default=None, ge=1, le=65535)


class VCenter(StrictModel):
    """The vCenter that manages a VMware cluster."""

    host: HostAddress
    datacenter: str = Field(min_length=1)
    cluster: str | None = Field(default=None, description="Cluster name in vCenter; defaults to the cluster's name.")
    credentials: CredentialRef


class Cluster(StrictModel):
    """A set of hosts of one hypervisor sharing primary storage."""

    name: Name
    hypervisor: Hypervisor
    vcenter: VCenter | None = Field(default=None, description="Required for vmware clusters.")
    pool_master: str | None = Field(default=None, description="XenServer pool master: the name of one of its hosts.")
    cpu_overprovisioning: float = Field(default=1.0, gt=0, description="cpu.overprovisioning.factor")
    mem_overprovisioning: float = Field(default=1.0, gt=0, description="mem.overprovisioning.factor")
    hosts: list[Host] = Field(default_factory=list)


class Pod(StrictModel):
    """A pod: one L2 switch, its gateway and the management IP range handed to system VMs."""

    name: Name
    gateway: IPv4
    netmask: Netmask
    start_ip: IPv4
    end_ip: IPv4
    clusters: list[Cluster] = Field(default_factory=list)


class NetworkType(StrEnum):
    """CloudStack zone network types."""

    BASIC = "Basic"
    ADVANCED = "Advanced"


class Zone(StrictModel):
    """A zone: usually one data centre, with its pods, networks and storage."""

    name: Name
    region: str = Field(description="Name of the region the zone belongs to.")
    network_type: Annotated[NetworkType, case_insensitive(NetworkType)] = NetworkType.ADVANCED
    dns: list[IPv4] = Field(min_length=1, max_length=2, description="Public DNS servers for guests.")
    internal_dns: list[IPv4] = Field(min_length=1, max_length=2, description="DNS servers for system VMs.")
    guest_cidr: CIDR | None = Field(default=None, description="Default CIDR of isolated guest networks.")
    domain: str | None = Field(default=None, description="Network domain for guests.")
    local_storage_enabled: bool = False
    physical_networks: list[PhysicalNetwork] = Field(default_factory=list)
    pods: list[Pod] = Field(default_factory=list)
    primary_storage: list[PrimaryStorage] = Field(default_factory=list)
    image_stores: list[ImageStore] = Field(default_factory=list)


class NfsBackend(StrEnum):
    """How a storage server exports NFS."""

    KERNEL = "kernel"
    GANESHA = "ganesha"


class IscsiBackend(StrEnum):
    """How a storage server serves iSCSI LUNs."""

    TGT = "tgt"
    LIO = "lio"


class StorageServer(StrictModel):
    """A machine the bootstrap turns into an NFS server and/or iSCSI target.

    Pools and image stores whose ``server`` is this machine's name are exported by it.
    """

    name: Name
    ip: IPv4
    zone: str | None = Field(default=None, description="Zone the server sits in (for grouping only).")
    nfs_backend: Annotated[NfsBackend, case_insensitive(NfsBackend)] = NfsBackend.KERNEL
    iscsi_backend: Annotated[IscsiBackend, case_insensitive(IscsiBackend)] = IscsiBackend.TGT
    export_root: str = Field(default="/srv/provisioner", description="Directory under which exports are created.")
    ssh_user: str | None = None
    ssh_port: int | None = Field(default=None, ge=1, le=65535)
