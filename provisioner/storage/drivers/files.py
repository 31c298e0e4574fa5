"""A store that is a directory this host sees: local storage, FC shared mount points, mounted NFS.

Volumes are files named after the volume. Unfinished copies are ``name.part`` (never listed),
base images are ``tmpl-<template>.qcow2`` and overlays name their base by a relative path, so the
same files work on every host that mounts the store, wherever it mounts it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import ClassVar

import pydantic

from provisioner.exceptions import DriverError, DriverValueError, VolumeExistsError, VolumeNotFoundError
from provisioner.storage import qemu
from provisioner.storage.base import Progress, StorageDriver, StorageSettings, base_image_name
from provisioner.storage.qcow2 import read_header
from provisioner.storage.replication.copy import copy_image
from provisioner.storage.replication.imageinfo import check_image
from provisioner.storage.types import (
    Capacity,
    DiskSource,
    ImageFormat,
    StorageFeatures,
    VolumeInfo,
    check_name,
)

SKIP_SUFFIXES = (".part", ".journal", ".tmp")


class FileStoreSettings(StorageSettings):
    """Settings of a directory-backed store."""

    capacity_bytes: int | None = pydantic.Field(
        None, gt=0, description="Report this total instead of the file system's (a quota the operator set)."
    )


class FileStoreDriver(StorageDriver):
    """Shared implementation for every store with a local directory view; subclasses say where it is."""

    features: ClassVar[StorageFeatures] = (
        StorageFeatures.PRIMARY
        | StorageFeatures.IMAGE_STORE
        | StorageFeatures.VOLUMES
        | StorageFeatures.OVERLAYS
        | StorageFeatures.SPARSE
    )
    settings_model: ClassVar[type[StorageSettings]] = FileStoreSettings

    @property
    def root(self) -> Path:
        """The directory holding the volumes."""
        raise NotImplementedError

    # -- primitives: a subclass without a local view (user-space NFS) overrides these --------------

    def _path(self, name: str) -> Path:
        # Names are checked by the public verbs; internal ones (``x.part``) pass through here.
        return self.root / name

    def _target(self, name: str) -> str:
        """What qemu-img opens for a volume: a path here, a URL for user-space stores."""
        return str(self._path(name))

    def _backing_ref(self, base: str) -> str:
        """How an overlay names its base: relative, so any host's mount of the store resolves it."""
        return base

    def _exists(self, name: str) -> bool:
        return self._path(name).exists()

    def _names(self) -> list[str]:
        return [
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(SKIP_SUFFIXES)
        ]

    def _fs_totals(self) -> tuple[int, int]:
        stat = os.statvfs(self.root)
        return stat.f_blocks * stat.f_frsize, (stat.f_blocks - stat.f_bfree) * stat.f_frsize

    def _info(self, name: str) -> VolumeInfo:
        path = self._path(name)
        stat = path.stat()
        header = read_header(str(path))
        if header is not None:
            fmt, size, backing = ImageFormat.QCOW2, header.virtual_size, header.backing_file
        else:
            fmt = ImageFormat.ISO if path.suffix.lower() == ".iso" else ImageFormat.RAW
            size, backing = stat.st_size, None
        return VolumeInfo(name, fmt, size, stat.st_blocks * 512, DiskSource(str(path), fmt), backing)

    def _commit(self, part: str, name: str) -> None:
        """Make a finished ``.part`` durable and visible under its final name."""
        with open(self._path(part), "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(self._path(part), self._path(name))

    def _unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def _copy_file_in(self, source: Path, name: str, fmt: ImageFormat, progress: Progress | None) -> None:
        copy_image(source, self._path(name), progress=progress)

    # -- connection and reading -------------------------------------------------------------------

    def connect(self) -> None:
        """Check the store is reachable and writable."""
        problem = self.probe()
        if problem:
            raise DriverError(f"{self.name} store {self.url}: {problem}")

    def probe(self) -> str:
        """Empty when the directory is usable, else why not."""
        if not self.root.is_dir():
            return f"{self.root} does not exist or is not a directory"
        if not os.access(self.root, os.W_OK | os.X_OK):
            return f"{self.root} is not writable"
        return ""

    def capacity(self) -> Capacity:
        """File system totals (or the configured quota) and the sum of virtual sizes."""
        volumes = self.list_volumes()
        total, used = self._fs_totals()
        quota = getattr(self.settings, "capacity_bytes", None)
        if quota is not None:
            total, used = quota, sum(volume.allocated_bytes for volume in volumes)
        return Capacity(total, used, sum(volume.virtual_size for volume in volumes))

    def totals(self) -> tuple[int, int | None]:
        """The file system's total and used bytes (statvfs, FSSTAT in user space); with a quota, :meth:`capacity`'s."""
        if getattr(self.settings, "capacity_bytes", None) is not None:
            return super().totals()
        return self._fs_totals()

    def list_volumes(self) -> list[VolumeInfo]:
        """Every volume except unfinished copies and hidden files, sorted by name."""
        return [self._info(name) for name in sorted(self._names())]

    def get_volume(self, name: str) -> VolumeInfo:
        """One volume by name."""
        if not self._exists(check_name("volume", name)):
            raise VolumeNotFoundError(f"{self.name} store {self.url} has no volume {name!r}")
        return self._info(name)

    def local_path(self, name: str) -> Path | None:
        """The file in the store's directory."""
        return self._path(check_name("volume", name))

    def disk_source(self, name: str) -> DiskSource:
        """The volume's path or URL (the same on every host for shared stores)."""
        return self.get_volume(name).source

    # -- changing ---------------------------------------------------------------------------------

    def copy_in(
        self,
        source: str | Path,
        dest_name: str,
        *,
        fmt: ImageFormat = ImageFormat.RAW,
        progress: Progress | None = None,
    ) -> VolumeInfo:
        """Copy a local image in as it is: sparse, and atomic (checksummed and resumable on local views)."""
        self._check_writable()
        if self._exists(check_name("volume", dest_name)):
            raise VolumeExistsError(f"{self.name} store {self.url} already has a volume {dest_name!r}")
        self._copy_file_in(Path(source), dest_name, ImageFormat.parse(fmt), progress)
        return self.get_volume(dest_name)

    def _publish(self, name: str, args: list[str], what: str, tail: tuple[str, ...] = ()) -> None:
        # qemu-img writes the .part; the rename makes it visible only once it is complete.
        part = f"{name}.part"
        try:
            qemu.run("qemu-img", [*args, self._target(part), *tail], timeout=self.settings.command_timeout, what=what)
            self._commit(part, name)
        finally:
            self._unlink(part)

    def create_volume(self, name: str, size_bytes: int, fmt: ImageFormat = ImageFormat.QCOW2) -> VolumeInfo:
        """A thin qcow2 or sparse raw file."""
        self._check_writable()
        if self._exists(check_name("volume", name)):
            raise VolumeExistsError(f"{self.name} store {self.url} already has a volume {name!r}")
        if size_bytes <= 0:
            raise DriverValueError(f"volume {name!r}: size must be positive, not {size_bytes}")
        if fmt not in (ImageFormat.QCOW2, ImageFormat.RAW):
            raise DriverValueError(f"volume {name!r}: only QCOW2 and RAW volumes can be created, not {fmt.value}")
        self._publish(name, ["create", "-q", "-f", fmt.qemu_name], f"create volume {name}", (str(size_bytes),))
        return self._info(name)

    def delete_volume(self, name: str) -> None:
        """Delete a volume; refuses a base image that overlays still use (a safety net under the ref counts)."""
        self._check_writable()
        if not self._exists(check_name("volume", name)):
            return
        users = [volume.name for volume in self.list_volumes() if volume.backing == name]
        if users:
            raise DriverError(f"{name!r} is the base image of {', '.join(users)}; delete those volumes first")
        self._unlink(name)

    def ensure_base_image(self, template_id: str, source: str | Path, fmt: ImageFormat) -> DiskSource:
        """Convert the template to a qcow2 base image once; later calls return the existing one."""
        name = base_image_name(template_id)
        if self._exists(name):
            return self._info(name).source
        self._check_writable()
        fmt = ImageFormat.parse(fmt)
        check_image(str(source), fmt, timeout=self.settings.command_timeout)  # no backing chain gets followed
        args = ["convert", "-q", "-f", fmt.qemu_name, "-O", "qcow2", str(source)]
        self._publish(name, args, f"copy template {template_id}")
        return self._info(name).source

    def create_overlay(self, template_id: str, name: str, size_bytes: int | None = None) -> VolumeInfo:
        """A qcow2 overlay whose backing file is the base image, named relatively."""
        self._check_writable()
        base = self.get_volume(base_image_name(template_id))
        if self._exists(check_name("volume", name)):
            raise VolumeExistsError(f"{self.name} store {self.url} already has a volume {name!r}")
        base_size = base.virtual_size
        if size_bytes is not None and size_bytes < base_size:
            raise DriverValueError(f"overlay {name!r}: {size_bytes} bytes is smaller than its template ({base_size})")
        args = ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self._backing_ref(base.name)]
        self._publish(name, args, f"create overlay {name}", (str(size_bytes),) if size_bytes else ())
        return self._info(name)
