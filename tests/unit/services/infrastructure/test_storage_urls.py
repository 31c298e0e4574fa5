"""Primary storage URL parsing (no database)."""

from __future__ import annotations

import pytest

from provisioner.exceptions import ParamError
from provisioner.services.infrastructure.storage_urls import PoolLocation, parse_pool_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "nfs://198.18.0.5/export/primary/",
            PoolLocation("NetworkFilesystem", "198.18.0.5", 2049, "/export/primary", "nfs"),
        ),
        (
            "iscsi://198.18.0.6:3261/iqn.2024-01.org.example:target/1",
            PoolLocation("IscsiLUN", "198.18.0.6", 3261, "/iqn.2024-01.org.example:target/1", "iscsi"),
        ),
        (
            "iscsi://san/iqn.2024-01.org.example:t/0",
            PoolLocation("IscsiLUN", "san", 3260, "/iqn.2024-01.org.example:t/0", "iscsi"),
        ),
        ("presetup://localhost/datastore1", PoolLocation("PreSetup", "localhost", 0, "/datastore1", "presetup")),
        ("SharedMountPoint:///mnt/gfs", PoolLocation("SharedMountPoint", "", 0, "/mnt/gfs", "sharedmountpoint")),
        ("file:///var/lib/libvirt/images", PoolLocation("Filesystem", "", 0, "/var/lib/libvirt/images", "file")),
    ],
)
def test_parses_pool_urls(url: str, expected: PoolLocation) -> None:
    assert parse_pool_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/path", "scheme is not supported ftp"),
        ("nfs:///export", "host of the storage URL"),
        ("nfs://host", "path of the storage URL"),
        ("iscsi://host/iqn.2024-01.org.example:t", "Missing the iqn or lun"),
        ("iscsi://host/target/1", "Missing the iqn or lun"),
        ("nfs://host:notaport/x", "Invalid port"),
    ],
)
def test_rejects_bad_pool_urls(url: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_pool_url(url)


def test_local_storage_is_host_scoped() -> None:
    assert parse_pool_url("file:///data").is_local
    assert not parse_pool_url("nfs://h/p").is_local
