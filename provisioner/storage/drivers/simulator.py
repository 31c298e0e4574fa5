"""The simulator storage driver: the reference implementation, in memory, contacting nothing.

Any URL is accepted; drivers built with the same URL share one simulated pool (as two hosts share
one NFS export). Capacity is what the settings say. ``copy_in`` only reads the size of a local
source file, so API tests can register templates without moving bytes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pydantic

from provisioner.exceptions import DriverError, DriverValueError, VolumeExistsError, VolumeNotFoundError
from provisioner.storage.base import Progress, StorageDriver, StorageSettings, base_image_name
from provisioner.storage.types import (
    Capacity,
    DiskSource,
    ImageFormat,
    StorageFeatures,
    VolumeInfo,
    check_name,
)


class SimulatorStorageSettings(StorageSettings):
    """Settings of a simulated pool."""

    capacity_bytes: int = pydantic.Field(1 << 40, gt=0, description="Total bytes the pool reports.")
    down: bool = pydantic.Field(False, description="Report the pool as down (health tests).")


@dataclass
class _SimPool:
    volumes: dict[str, VolumeInfo] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_POOLS: dict[str, _SimPool] = {}
_POOLS_LOCK = threading.Lock()


class SimulatorStorageDriver(StorageDriver):
    """A pool that lives in this process; every verb is implemented."""

    name: ClassVar[str] = "simulator"
    features: ClassVar[StorageFeatures] = (
        StorageFeatures.PRIMARY
        | StorageFeatures.IMAGE_STORE
        | StorageFeatures.VOLUMES
        | StorageFeatures.OVERLAYS
        | StorageFeatures.SPARSE
        | StorageFeatures.SHARED
    )
    settings_model: ClassVar[type[StorageSettings]] = SimulatorStorageSettings

    def connect(self) -> None:
        """Attach to the simulated pool of this URL (created on first use)."""
        with _POOLS_LOCK:
            self._pool = _POOLS.setdefault(self.url, _SimPool())

    @classmethod
    def ex_reset(cls) -> None:
        """Forget every simulated pool (between tests)."""
        with _POOLS_LOCK:
            _POOLS.clear()

    @property
    def _sim(self) -> SimulatorStorageSettings:
        assert isinstance(self.settings, SimulatorStorageSettings)
        return self.settings

    def _volumes(self) -> dict[str, VolumeInfo]:
        pool: _SimPool | None = getattr(self, "_pool", None)
        if pool is None:
            raise DriverError(f"simulator pool {self.url}: call connect() first")
        return pool.volumes

    def _source(self, name: str, fmt: ImageFormat) -> DiskSource:
        where = urlsplit(self.url)
        return DiskSource(f"/simulator/{where.hostname or 'pool'}{where.path.rstrip('/')}/{name}", fmt)

    def _add(self, info: VolumeInfo) -> VolumeInfo:
        volumes = self._volumes()
        with self._pool.lock:
            if info.name in volumes:
                raise VolumeExistsError(f"simulator pool {self.url} already has a volume {info.name!r}")
            volumes[info.name] = info
        return info

    def capacity(self) -> Capacity:
        """The configured total; used and allocated from the volumes held."""
        volumes = list(self._volumes().values())
        used = sum(volume.allocated_bytes for volume in volumes)
        return Capacity(self._sim.capacity_bytes, used, sum(volume.virtual_size for volume in volumes))

    def probe(self) -> str:
        """Down only when the settings say so."""
        return "the simulated pool is configured as down" if self._sim.down else ""

    def list_volumes(self) -> list[VolumeInfo]:
        """Volumes sorted by name."""
        return sorted(self._volumes().values(), key=lambda volume: volume.name)

    def get_volume(self, name: str) -> VolumeInfo:
        """One volume by name."""
        found = self._volumes().get(name)
        if found is None:
            raise VolumeNotFoundError(f"simulator pool {self.url} has no volume {name!r}")
        return found

    def disk_source(self, name: str) -> DiskSource:
        """A made-up path the simulator hypervisor accepts."""
        return self.get_volume(name).source

    def copy_in(
        self,
        source: str | Path,
        dest_name: str,
        *,
        fmt: ImageFormat = ImageFormat.RAW,
        progress: Progress | None = None,
    ) -> VolumeInfo:
        """Record the image, sized like the local source file when there is one."""
        self._check_writable()
        check_name("volume", dest_name)
        size = os.path.getsize(source) if os.path.isfile(source) else 0
        info = self._add(VolumeInfo(dest_name, fmt, size, size, self._source(dest_name, fmt)))
        if progress is not None:
            progress(size, size)
        return info

    def create_volume(self, name: str, size_bytes: int, fmt: ImageFormat = ImageFormat.QCOW2) -> VolumeInfo:
        """Record a thin volume (nothing allocated yet)."""
        self._check_writable()
        check_name("volume", name)
        if size_bytes <= 0:
            raise DriverValueError(f"volume {name!r}: size must be positive, not {size_bytes}")
        return self._add(VolumeInfo(name, fmt, size_bytes, 0, self._source(name, fmt)))

    def delete_volume(self, name: str) -> None:
        """Forget a volume; refuses a base image that overlays still use."""
        self._check_writable()
        volumes = self._volumes()
        with self._pool.lock:
            users = [volume.name for volume in volumes.values() if volume.backing == name]
            if users:
                raise DriverError(f"{name!r} is the base image of {', '.join(users)}; delete those volumes first")
            volumes.pop(name, None)

    def ensure_base_image(self, template_id: str, source: str | Path, fmt: ImageFormat) -> DiskSource:
        """Record the template's base image once."""
        name = base_image_name(template_id)
        existing = self._volumes().get(name)
        if existing is not None:
            return existing.source
        self._check_writable()
        size = os.path.getsize(source) if os.path.isfile(source) else 0
        info = VolumeInfo(name, ImageFormat.QCOW2, size, size, self._source(name, ImageFormat.QCOW2))
        return self._add(info).source

    def create_overlay(self, template_id: str, name: str, size_bytes: int | None = None) -> VolumeInfo:
        """Record a qcow2 overlay on the base image."""
        self._check_writable()
        check_name("volume", name)
        base = self.get_volume(base_image_name(template_id))
        if size_bytes is not None and size_bytes < base.virtual_size:
            raise DriverValueError(f"overlay {name!r}: {size_bytes} bytes is smaller than its template")
        size = size_bytes or base.virtual_size
        return self._add(
            VolumeInfo(name, ImageFormat.QCOW2, size, 0, self._source(name, ImageFormat.QCOW2), backing=base.name)
        )
