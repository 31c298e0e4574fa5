"""Which disk a starting VM's volume becomes on its host (files of a mount or local directory, or network
disks), without storage: the cases here never reach a pool (the user-space NFS and iSCSI ones do, in
tests/integration/volumes/test_nfs_root.py and tests/e2e/compute/test_template_to_guest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.compute.types import SourceKind
from provisioner.exceptions import DriverError
from provisioner.services.compute.lifecycle.host_disks import PlacedVolume, place

NFS_POOL = {"id": 1, "uuid": "5f0b3a52", "name": "nfs1", "pool_type": "NetworkFilesystem", "path": "/export"}
LOCAL_POOL = {"id": 2, "uuid": "0c1f4a7d", "name": "local1", "pool_type": "Filesystem", "path": "/var/lib/pool/"}
ISCSI_POOL = {"id": 3, "uuid": "9a515f0b", "name": "lun1", "pool_type": "IscsiLUN", "path": None}


def root(pool: dict[str, Any] | None, driver: str | None, path: str | None = None) -> PlacedVolume:
    return PlacedVolume(10, "root-uuid", 0, 1 << 30, path, pool, driver)


def data(pool: dict[str, Any] | None, driver: str | None, path: str | None) -> PlacedVolume:
    return PlacedVolume(11, "data-uuid", 1, 2 << 30, path, pool, driver)


def test_a_mounted_nfs_pool_holds_files_and_the_root_overlays_the_hosts_view_of_the_base() -> None:
    asked: list[str] = []

    def mounts(directory: str) -> bool:
        asked.append(directory)
        return True

    placed = place(
        (root(NFS_POOL, "nfs"), data(NFS_POOL, "nfs", "data-uuid")),
        template_key="7",
        acquired="nfs://127.0.0.1/export/tmpl-7.qcow2",  # the server's URL: not what the host opens
        mounts=mounts,
    )
    first, second = placed.disks
    assert first.source_kind is SourceKind.FILE
    assert (first.source, first.backing, first.size_bytes) == (
        "/mnt/5f0b3a52/root-uuid",
        "/mnt/5f0b3a52/tmpl-7.qcow2",
        1 << 30,
    )
    assert (second.source, second.backing) == ("/mnt/5f0b3a52/data-uuid", None)
    assert placed.paths == {10: "/mnt/5f0b3a52/root-uuid", 11: "data-uuid"}  # the overlay: the host's file
    assert placed.created == () and asked == ["/mnt/5f0b3a52", "/mnt/5f0b3a52"]


def test_an_absolute_path_stays_and_the_host_is_not_asked() -> None:
    placed = place(
        (root(NFS_POOL, "nfs", "/mnt/5f0b3a52/root-uuid"),),
        template_key=None,
        acquired=None,
        mounts=lambda _directory: pytest.fail("asked"),
    )
    assert [d.source for d in placed.disks] == ["/mnt/5f0b3a52/root-uuid"]
    assert placed.disks[0].backing is None


@pytest.mark.parametrize(
    ("acquired", "backing"),
    [("/var/lib/pool/tmpl-7.qcow2", "/var/lib/pool/tmpl-7.qcow2"), ("/simulator/x", "/simulator/x")],
)
def test_a_local_pool_holds_files_in_its_directory(acquired: str, backing: str) -> None:
    placed = place(
        (root(LOCAL_POOL, "local"), data(LOCAL_POOL, "local", "data-uuid")),
        template_key="7",
        acquired=acquired,
        mounts=lambda _directory: False,
    )
    assert [(d.source, d.backing) for d in placed.disks] == [
        ("/var/lib/pool/root-uuid", backing),
        ("/var/lib/pool/data-uuid", None),
    ]


def test_a_template_base_given_as_a_url_is_no_file_backing() -> None:
    placed = place((root(LOCAL_POOL, "local"),), template_key="7", acquired="nfs://h/x/tmpl-7.qcow2", mounts=bool)
    assert placed.disks[0].backing is None


def test_an_unplaced_volume_and_a_lunless_iscsi_volume() -> None:
    placed = place((root(None, None),), template_key=None, acquired=None, mounts=bool)
    assert placed.disks[0].source == "/var/lib/provisioner/root-uuid"
    with pytest.raises(DriverError, match="volume data-uuid on iSCSI pool lun1 has no LUN yet; attach it with"):
        place((data(ISCSI_POOL, "iscsi", None),), template_key=None, acquired=None, mounts=bool)
