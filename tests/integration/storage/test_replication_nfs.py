"""Store-to-store replication between NFS image stores on a real ganesha, over every path the engine has."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.exceptions import ChecksumMismatchError
from provisioner.storage.drivers.local import LocalStorageDriver
from provisioner.storage.drivers.nfs import NfsStorageDriver
from provisioner.storage.replication.stores import replicate
from tests.support.nfs import NfsServer
from tests.support.tools import require_tool
from tests.unit.storage.contract import MIB, make_sparse_raw

pytestmark = pytest.mark.integration

DATA_AT = (0, 20 * MIB)


@pytest.fixture
def exports(nfs_server: NfsServer) -> Iterator[dict[str, Path]]:
    require_tool("qemu-img")
    require_tool("nfs-cat")
    for export in nfs_server.exports:
        nfs_server.empty(export)
    yield nfs_server.exports


def _seed(nfs_server: NfsServer, tmp_path: Path) -> str:
    """Put a sparse template on the zone-1 store through the NFS server, as a finished download would."""
    image = make_sparse_raw(tmp_path / "tmpl.raw", 32 * MIB, DATA_AT)
    # Through ganesha, not behind its back: it caches open files by handle.
    with NfsStorageDriver(nfs_server.url("secondary")) as zone1:
        zone1.copy_in(image, "tmpl.raw")
    return hashlib.sha256(image.read_bytes()).hexdigest()


def test_mounted_to_mounted_uses_the_engine(nfs_server: NfsServer, exports: dict[str, Path], tmp_path: Path) -> None:
    digest = _seed(nfs_server, tmp_path)
    zone1 = NfsStorageDriver(nfs_server.url("secondary"), {"mount_point": str(exports["secondary"])})
    zone2 = NfsStorageDriver(nfs_server.url("secondary2"), {"mount_point": str(exports["secondary2"])})
    result = replicate(zone1, "tmpl.raw", zone2, expected=f"{{SHA256}}{digest}")
    copied = exports["secondary2"] / "tmpl.raw"
    assert (result.hexdigest, result.bytes_copied) == (digest, len(DATA_AT) * MIB)
    assert copied.stat().st_blocks == (exports["secondary"] / "tmpl.raw").stat().st_blocks


def test_user_space_source_streams_into_a_local_store(
    nfs_server: NfsServer, exports: dict[str, Path], tmp_path: Path
) -> None:
    digest = _seed(nfs_server, tmp_path)
    local = tmp_path / "local"
    local.mkdir()
    with NfsStorageDriver(nfs_server.url("secondary")) as zone1, LocalStorageDriver(str(local)) as store:
        result = replicate(zone1, "tmpl.raw", store, algorithm="sha256")
    assert result.hexdigest == digest
    assert (local / "tmpl.raw").stat().st_blocks * 512 <= 3 * MIB  # zero runs became holes again


def test_into_a_user_space_store_verifies_first(
    nfs_server: NfsServer, exports: dict[str, Path], tmp_path: Path
) -> None:
    digest = _seed(nfs_server, tmp_path)
    with NfsStorageDriver(nfs_server.url("secondary")) as zone1, NfsStorageDriver(nfs_server.url("primary")) as zone2:
        with pytest.raises(ChecksumMismatchError):
            replicate(zone1, "tmpl.raw", zone2, expected="0" * 64)
        assert list(exports["primary"].iterdir()) == []
        result = replicate(zone1, "tmpl.raw", zone2, expected=digest)
    assert result.hexdigest == digest
    copied = exports["primary"] / "tmpl.raw"
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == digest
    assert copied.stat().st_blocks * 512 <= 3 * MIB
