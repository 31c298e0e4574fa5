"""Local storage: a directory on one hypervisor host (CloudStack's host-scope ``local`` pools)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from provisioner.storage.drivers.files import FileStoreDriver


class LocalStorageDriver(FileStoreDriver):
    """A directory on the host, given as ``file:///var/lib/libvirt/images`` or an absolute path.

    Not shared: only VMs on that host can use its volumes, so it does not declare ``SHARED``.
    """

    name: ClassVar[str] = "local"
    schemes: ClassVar[frozenset[str]] = frozenset({"file", ""})

    @property
    def root(self) -> Path:
        """The directory from the URL."""
        return Path(urlsplit(self.url).path if "://" in self.url else self.url)
