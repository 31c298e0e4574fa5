"""Fibre Channel as pre-setup storage: a path (a cluster file system or a mount of the LUN) on every host.

CloudStack calls these ``PreSetup`` (a path the hypervisor already has) and ``SharedMountPoint``
(a directory mounted at the same place on every host of the cluster). The FC fabric and the
cluster file system are set up outside (Ansible); the driver only uses the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from provisioner.storage.drivers.files import FileStoreDriver
from provisioner.storage.types import StorageFeatures


class FibreChannelStorageDriver(FileStoreDriver):
    """``presetup://host/path``, ``sharedmountpoint://host/path`` or ``fc://host/path``: the path is what counts."""

    name: ClassVar[str] = "fc"
    schemes: ClassVar[frozenset[str]] = frozenset({"presetup", "sharedmountpoint", "fc", "file"})
    features: ClassVar[StorageFeatures] = FileStoreDriver.features | StorageFeatures.SHARED

    @property
    def root(self) -> Path:
        """The shared path from the URL (the host part only names the pool's origin)."""
        return Path(unquote(urlsplit(self.url).path))
