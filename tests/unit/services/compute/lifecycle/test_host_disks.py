"""Which disk a starting VM's volume becomes on its host (files of a mount or local directory, or network
disks), without storage: the cases here never reach a pool (the user-space NFS and iSCSI ones do, in
tests/integration/volumes/test_nfs_root.py and tests/e2e/compute/test_template_to_guest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.compute.types import DiskFormat, SourceKind
from provisioner.exceptions import DriverError
from provisioner.services.compute.lifecycle.host_disks import PlacedVolume, place
from provisioner.services.volumes import disks
from provisioner.storage.types import DiskSource, ImageFormat, VolumeInfo

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


def test_an_unplaced_volume_is_a_file_of_the_default_directory() -> None:
    placed = place((root(None, None),), template_key=None, acquired=None, mounts=bool)
    assert placed.disks[0].source == "/var/lib/provisioner/root-uuid"


ISCSI_URL = "iscsi://127.0.0.1:3260/iqn.2026-01.test.local:primary"


def test_lunless_iscsi_volumes_get_the_luns_their_claim_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice and its record are the claim's (``claim_lun``: attachVolume's pick under the pool's lock)."""
    asked: list[str] = []

    def claim(item: PlacedVolume) -> str:
        asked.append(item.uuid)
        return {"data-uuid": "lun1", "more-uuid": "lun3"}[item.uuid]

    # Where the storage driver puts a LUN, without logging in to a target.
    monkeypatch.setattr(disks, "disk_uri", lambda _d, p, name: (f"{p['url']}/{name[3:]}", DiskFormat.RAW))
    pool = {**ISCSI_POOL, "url": ISCSI_URL}
    second = PlacedVolume(12, "more-uuid", 2, 1 << 30, None, pool, "iscsi")
    placed = place(
        (data(pool, "iscsi", None), second, PlacedVolume(13, "old-uuid", 3, 1, "lun2", pool, "iscsi")),
        template_key=None,
        acquired=None,
        mounts=lambda _directory: pytest.fail("asked"),
        claim=claim,
    )
    assert asked == ["data-uuid", "more-uuid"]  # not the volume that has its LUN
    assert placed.paths == {11: "lun1", 12: "lun3", 13: "lun2"}
    assert [(d.source, d.source_kind, d.device_id) for d in placed.disks] == [
        (f"{ISCSI_URL}/1", SourceKind.ISCSI, 1),
        (f"{ISCSI_URL}/3", SourceKind.ISCSI, 2),
        (f"{ISCSI_URL}/2", SourceKind.ISCSI, 3),
    ]
    with pytest.raises(DriverError, match="volume data-uuid on iSCSI pool lun1 has no LUN yet"):
        place((data(pool, "iscsi", None),), template_key=None, acquired=None, mounts=bool)  # nobody to claim one


def lun(number: int, size: int) -> VolumeInfo:
    source = DiskSource(f"{ISCSI_URL}/{number}", ImageFormat.RAW)
    return VolumeInfo(f"lun{number}", ImageFormat.RAW, size, size, source)


def test_the_smallest_free_lun_that_holds_the_volume_is_chosen() -> None:
    luns = [lun(1, 64 << 20), lun(2, 32 << 20), lun(3, 32 << 20)]
    assert disks.choose_lun(ISCSI_POOL, luns, {"lun2"}, 30 << 20) == "lun3"
    assert disks.choose_lun(ISCSI_POOL, luns, {"lun2", "lun3"}, 30 << 20) == "lun1"
    with pytest.raises(DriverError, match=r"iSCSI pool lun1 has no free LUN of at least 68157440 bytes \(2 free\)"):
        disks.choose_lun(ISCSI_POOL, luns, {"lun2"}, 65 << 20)


def test_a_template_root_disk_is_not_made_on_a_lun() -> None:
    with pytest.raises(DriverError, match="root volume root-uuid on iSCSI pool lun1: a template's root disk cannot"):
        place((root(ISCSI_POOL, "iscsi"),), template_key="7", acquired=None, mounts=bool)


def test_a_pool_mounted_by_name_is_found_through_its_host_mount_point_detail() -> None:
    """The kvm_host role mounts a pool it was given no uuid for at <root>/<name>; the pool's detail says where."""
    pool = {**NFS_POOL, "details": {"host_mount_point": "/mnt/nfs1/"}}
    asked: list[str] = []

    def mounts(directory: str) -> bool:
        asked.append(directory)
        return True

    placed = place(
        (root(pool, "nfs"), data(pool, "nfs", "data-uuid")),
        template_key="7",
        acquired="nfs://127.0.0.1/export/tmpl-7.qcow2",
        mounts=mounts,
    )
    assert [(d.source, d.backing) for d in placed.disks] == [
        ("/mnt/nfs1/root-uuid", "/mnt/nfs1/tmpl-7.qcow2"),
        ("/mnt/nfs1/data-uuid", None),
    ]
    assert asked == ["/mnt/nfs1", "/mnt/nfs1"]


def test_a_relative_host_mount_point_is_refused() -> None:
    pool = {**NFS_POOL, "details": {"host_mount_point": "nfs1"}}
    with pytest.raises(DriverError, match="storage pool nfs1: its host_mount_point detail 'nfs1' is not an absolute"):
        place((data(pool, "nfs", "data-uuid"),), template_key=None, acquired=None, mounts=bool)
