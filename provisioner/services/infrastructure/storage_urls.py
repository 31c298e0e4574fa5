"""Parsing primary storage URLs (``createStoragePool url=...``) into pool type, host, port and path."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from provisioner.exceptions import ParamError


@dataclass(frozen=True, slots=True)
class PoolLocation:
    """Where a primary storage pool is.

    Attributes:
        pool_type: CloudStack's ``StoragePoolType`` name (NetworkFilesystem, IscsiLUN, ...).
        host: server name or address ("" for local or pre-mounted paths).
        port: service port (0 when not applicable).
        path: export path, ``/iqn/lun`` for iSCSI, or the mount point.
        scheme: the URL scheme as given, lower-cased.
    """

    pool_type: str
    host: str
    port: int
    path: str
    scheme: str

    @property
    def is_local(self) -> bool:
        """Local (host-scoped) storage."""
        return self.pool_type == "Filesystem"


_TYPES = {
    "nfs": ("NetworkFilesystem", 2049),
    "iscsi": ("IscsiLUN", 3260),
    "presetup": ("PreSetup", 0),
    "sharedmountpoint": ("SharedMountPoint", 0),
    "file": ("Filesystem", 0),
    "local": ("Filesystem", 0),
    "filesystem": ("Filesystem", 0),
    "rbd": ("RBD", 6789),
    "clvm": ("CLVM", 0),
    "gluster": ("Gluster", 24007),
    "vmfs": ("VMFS", 0),
}


def parse_pool_url(url: str) -> PoolLocation:
    """Parse ``nfs://host/path``, ``iscsi://host[:port]/iqn/lun``, ``presetup://host/path``,
    ``sharedmountpoint://[host]/path``, ``file:///path`` (local) and a few more.

    Raises:
        ParamError: an unsupported scheme, a missing host or path, or an iSCSI URL without IQN and LUN (431).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _TYPES:
        raise ParamError(f"scheme is not supported {parts.scheme or url}")
    pool_type, default_port = _TYPES[scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ParamError(f"Invalid port in the storage URL {url}") from None
    host = parts.hostname or ""
    path = unquote(parts.path) or ""
    if scheme in ("nfs", "iscsi", "rbd", "gluster") and not host:
        raise ParamError(f"The host of the storage URL {url} is missing")
    if scheme != "rbd" and not path.strip("/"):
        raise ParamError(f"The path of the storage URL {url} is missing")
    if scheme == "iscsi":
        segments = [segment for segment in path.split("/") if segment]
        if len(segments) != 2 or not segments[0].startswith("iqn.") or not segments[1].isdigit():
            raise ParamError("Missing the iqn or lun in the uri; expected iscsi://host/iqn.yyyy-mm.domain:target/lun")
        path = f"/{segments[0]}/{segments[1]}"
    elif scheme == "nfs" and len(path) > 1:
        path = path.rstrip("/")
    return PoolLocation(pool_type, host, port, path, scheme)
