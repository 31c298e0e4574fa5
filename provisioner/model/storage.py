"""Primary storage pools (VM disks) and image stores (secondary storage: templates, ISOs, snapshots)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from provisioner.model.base import HostAddress, Hypervisor, Name, Size, StrictModel, Tags, case_insensitive
from provisioner.model.credentials import CredentialRef


class StorageProtocol(StrEnum):
    """Primary storage protocols."""

    NFS = "nfs"
    ISCSI = "iscsi"
    FC = "fc"
    LOCAL = "local"


class StorageScope(StrEnum):
    """Who can use a pool: the hosts of one cluster, every host of the zone, or one host."""

    CLUSTER = "cluster"
    ZONE = "zone"
    HOST = "host"


class PrimaryStorage(StrictModel):
    """A primary storage pool of a zone.

    ``scope`` defaults to ``host`` for local storage, else ``zone`` when ``hypervisor`` is given,
    else ``cluster``. Cluster scope names its ``cluster`` (and optionally ``pod``), zone scope its
    ``hypervisor``, host scope its ``host``.

    Protocol fields: nfs needs ``server`` + ``path``; iscsi ``server`` + ``iqn`` + ``lun``; fc a
    ``path`` that exists on every host (pre-setup / shared mount point); local a ``path`` on the host.
    """

    name: Name
    protocol: Annotated[StorageProtocol, case_insensitive(StorageProtocol)]
    scope: Annotated[StorageScope, case_insensitive(StorageScope)] | None = None
    pod: str | None = None
    cluster: str | None = None
    host: str | None = None
    hypervisor: Hypervisor | None = Field(default=None, description="Hypervisor of a zone-scope pool.")
    server: HostAddress | None = Field(default=None, description="A storage server's name, an IP or a DNS name.")
    path: str | None = None
    iqn: str | None = Field(
        default=None, pattern=r"^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]+)$"
    )
    lun: int | None = Field(default=None, ge=0, le=16383)
    chap: CredentialRef | None = Field(default=None, description="CHAP credentials of the iSCSI target.")
    capacity: Size | None = Field(default=None, description="Capacity in bytes, or with a unit (2TiB).")
    tags: Tags
    overprovisioning: float | None = Field(default=None, gt=0, description="storage.overprovisioning.factor")
    provider: str = "DefaultPrimary"

    @property
    def effective_scope(self) -> StorageScope:
        """The scope given, or the one implied by the other fields."""
        if self.scope is not None:
            return self.scope
        if self.protocol is StorageProtocol.LOCAL:
            return StorageScope.HOST
        return StorageScope.ZONE if self.hypervisor is not None else StorageScope.CLUSTER


class ImageStore(StrictModel):
    """An NFS image store (secondary storage) of a zone."""

    name: Name
    protocol: Literal["nfs"] = "nfs"
    server: HostAddress = Field(description="A storage server's name, an IP or a DNS name.")
    path: str = Field(pattern=r"^/", description="Exported path, absolute.")
    capacity: Size | None = None
