"""NFS primary storage and NFS image stores: through a kernel mount when there is one, else in user space.

With ``mount_point`` set (a directory where this host mounts the export) the store is a plain
directory and everything, copies included, goes through :class:`FileStoreDriver`. Without one (the
kernel cannot mount NFS, as on our test machines) the driver works in user space:

* images are written by ``qemu-img`` to ``nfs://`` URLs (libnfs inside qemu). Raw images are
  copied with ``qemu-img convert -S 4k``, which skips zero runs so holes stay holes on the server;
  qcow2 and ISO files are copied byte for byte with libnfs's ``nfs-cp`` (qcow2 is already compact,
  and its checksum is that of the file);
* ``nfs-ls`` lists the export and ``qemu-img info`` reads formats and sizes;
* rename (the atomic publish of ``name.part``), remove and free space are NFSv3 RPCs
  (:mod:`.rpc`), which neither tool offers.

User-space copies are atomic but neither resumable nor checksummed inline: qemu-img offers
neither. Store-to-store replication that needs both runs where the stores are mounted, or stages
through a local directory.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic

from provisioner.exceptions import DriverError, DriverSettingsError, VolumeNotFoundError
from provisioner.storage import qemu
from provisioner.storage.base import Progress, StorageSettings
from provisioner.storage.drivers.files import SKIP_SUFFIXES, FileStoreDriver, FileStoreSettings
from provisioner.storage.drivers.nfs.rpc import NfsClient
from provisioner.storage.replication.imageinfo import parse_info
from provisioner.storage.types import DiskSource, ImageFormat, StorageFeatures, VolumeInfo

#: ``nfs-ls`` prints ``-rw-r--r--  1  0  0  1048576 name`` per entry.
_LS_LINE = re.compile(r"^(?P<kind>[-dl])\S+\s+\d+\s+\d+\s+\d+\s+(?P<size>\d+)\s+(?P<name>.+)$")


class NfsSettings(FileStoreSettings):
    """Settings of an NFS pool or image store."""

    mount_point: str | None = pydantic.Field(
        None, description="Where this host mounts the export; when unset, the export is reached in user space."
    )
    nfs_port: int | None = pydantic.Field(
        None, ge=1, le=65535, description="The server's NFS port; asked from its portmapper when unset."
    )


class NfsStorageDriver(FileStoreDriver):
    """``nfs://server/exported/path``: primary storage (cluster or zone scope) or an image store."""

    name: ClassVar[str] = "nfs"
    schemes: ClassVar[frozenset[str]] = frozenset({"nfs"})
    features: ClassVar[StorageFeatures] = FileStoreDriver.features | StorageFeatures.SHARED
    settings_model: ClassVar[type[StorageSettings]] = NfsSettings

    def __init__(self, url: str, settings: Mapping[str, Any] | StorageSettings | None = None) -> None:
        super().__init__(url, settings)
        parts = urlsplit(url)
        if not parts.hostname or not parts.path.startswith("/"):
            raise DriverSettingsError(f"NFS URL {url!r} needs a server and an absolute export path")
        self.server, self.export = parts.hostname, parts.path.rstrip("/") or "/"
        assert isinstance(self.settings, NfsSettings)
        self._mount_point = self.settings.mount_point
        self._client = NfsClient(
            self.server, self.export, timeout=min(self.settings.command_timeout, 60.0), nfs_port=self.settings.nfs_port
        )

    @property
    def mounted(self) -> bool:
        """True when the export is reached through a kernel mount on this host."""
        return self._mount_point is not None

    @property
    def root(self) -> Path:
        """The mount point (only meaningful when :attr:`mounted`)."""
        return Path(self._mount_point or "/nonexistent")

    def _url(self, name: str) -> str:
        return f"nfs://{self.server}{self.export}/{name}"

    # -- user-space primitives ----------------------------------------------------------------------

    def local_path(self, name: str) -> Path | None:
        """The file under the mount point, or None in user space."""
        return super().local_path(name) if self.mounted else None

    def _target(self, name: str) -> str:
        return super()._target(name) if self.mounted else self._url(name)

    def _backing_ref(self, base: str) -> str:
        # qemu's nfs driver cannot resolve a relative backing name (it appends it to the overlay's
        # own URL), so user-space overlays name their base by its full URL.
        return super()._backing_ref(base) if self.mounted else self._url(base)

    def _exists(self, name: str) -> bool:
        if self.mounted:
            return super()._exists(name)
        try:
            self._client.lookup(name)
        except VolumeNotFoundError:
            return False
        return True

    def _names(self) -> list[str]:
        if self.mounted:
            return super()._names()
        output = qemu.run("nfs-ls", [self._url("")], timeout=self.settings.command_timeout, what="list the export")
        names = []
        for line in output.splitlines():
            match = _LS_LINE.match(line.strip())
            if (
                match
                and match["kind"] == "-"
                and not match["name"].startswith(".")
                and not match["name"].endswith(SKIP_SUFFIXES)
            ):
                names.append(match["name"])
        return names

    def _fs_totals(self) -> tuple[int, int]:
        if self.mounted:
            return super()._fs_totals()
        stat = self._client.fsstat()
        return stat.total_bytes, stat.total_bytes - stat.free_bytes

    def _info(self, name: str) -> VolumeInfo:
        if self.mounted:
            return super()._info(name)
        info = parse_info(qemu.info(self._url(name), timeout=self.settings.command_timeout))
        fmt = ImageFormat.ISO if name.lower().endswith(".iso") and info.format is ImageFormat.RAW else info.format
        backing = info.backing_file.rsplit("/", 1)[-1] if info.backing_file else None  # a name in this store
        return VolumeInfo(name, fmt, info.virtual_size, info.actual_size, DiskSource(self._url(name), fmt), backing)

    def _commit(self, part: str, name: str) -> None:
        if self.mounted:
            super()._commit(part, name)
        else:
            self._client.rename(part, name)  # NFS COMMITs on close; RENAME is atomic on the server

    def _unlink(self, name: str) -> None:
        if self.mounted:
            super()._unlink(name)
            return
        with contextlib.suppress(VolumeNotFoundError):
            self._client.remove(name)

    def _copy_file_in(self, source: Path, name: str, fmt: ImageFormat, progress: Progress | None) -> None:
        if self.mounted:
            super()._copy_file_in(source, name, fmt, progress)
            return
        size = source.stat().st_size
        part = f"{name}.part"
        timeout = self.settings.command_timeout
        try:
            if fmt is ImageFormat.RAW:
                qemu.run(
                    "qemu-img",
                    ["convert", "-q", "-f", "raw", "-O", "raw", "-S", "4k", str(source), self._url(part)],
                    timeout=timeout,
                    what=f"copy {source.name} in",
                )
            else:
                qemu.run("nfs-cp", [str(source), self._url(part)], timeout=timeout, what=f"copy {source.name} in")
            self._commit(part, name)
        finally:
            self._unlink(part)
        if progress is not None:
            progress(size, size)

    # -- connection -----------------------------------------------------------------------------------

    def probe(self) -> str:
        """Empty when the export answers (or the mount point is usable), else why not."""
        if self.mounted:
            return super().probe()
        try:
            self._client.mount()
        except DriverError as error:
            return str(error)
        return ""
