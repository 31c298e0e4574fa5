"""Service and disk offerings (the sizes users pick)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from provisioner.model.base import Name, StrictModel, Tags


class ServiceOffering(StrictModel):
    """CPU and memory sizes of VMs, with the tags the allocator honours."""

    name: str = Field(min_length=1, max_length=255)
    display_text: str | None = None
    cpu_number: int = Field(ge=1, le=1024)
    cpu_speed: int = Field(ge=1, description="MHz per core.")
    memory: int = Field(ge=32, description="MiB.")
    storage_type: Literal["shared", "local"] = "shared"
    offer_ha: bool = False
    limit_cpu_use: bool = False
    host_tags: Tags
    storage_tags: Tags
    deployment_planner: str | None = None


class DiskOffering(StrictModel):
    """Sizes of data disks."""

    name: str = Field(min_length=1, max_length=255)
    display_text: str | None = None
    disk_size: int | None = Field(default=None, ge=1, description="GiB; leave out for a custom size.")
    customized: bool = False
    storage_type: Literal["shared", "local"] = "shared"
    provisioning_type: Literal["thin", "sparse", "fat"] = "thin"
    tags: Tags


class NetworkOffering(StrictModel):
    """A network offering defined by the topology (the stock ones always exist)."""

    name: Name
    display_text: str | None = None
    guest_ip_type: Literal["Shared", "Isolated", "L2"] = "Isolated"
    services: list[str] = Field(default_factory=list)
