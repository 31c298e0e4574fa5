"""Real NFS (nfs-ganesha on loopback): a template downloaded over HTTP into zone 1's NFS image store,
replicated store to store into zone 2's, then copied once to NFS primary storage as a qcow2 base image."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from provisioner.db.schema import storage_pool
from provisioner.services.templates.deploy import acquire_base_image, pool_row_by_id, release_base_image
from provisioner.storage.drivers.nfs import NfsStorageDriver
from tests.integration.templates.support import MIB, TemplateCloud, qemu_img
from tests.support.nfs import NfsServer
from tests.support.origin import origin

pytestmark = pytest.mark.integration


@pytest.fixture
def exports(nfs_server: NfsServer) -> Iterator[NfsServer]:
    for name in ("primary", "secondary", "secondary2"):
        nfs_server.empty(name)
    yield nfs_server
    for name in ("primary", "secondary", "secondary2"):
        nfs_server.empty(name)


def test_nfs_download_replicate_and_base_image(db_engine: Engine, exports: NfsServer, tmp_path: Path) -> None:
    cloud = TemplateCloud(db_engine)
    cloud.allow_loopback()
    raw = tmp_path / "t.raw"
    with open(raw, "wb") as handle:
        handle.truncate(48 * MIB)
        handle.write(os.urandom(4 * MIB))
    image = tmp_path / "www" / "t.qcow2"
    image.parent.mkdir()
    qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(image))
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    z2 = cloud.zone("z2")
    s1 = cloud.store(cloud.zone_id, exports.url("secondary"))
    s2 = cloud.store(z2, exports.url("secondary2"))
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.qcow2", [cloud.zone_id, z2], checksum=digest)
        refs = cloud.work_until(tid, {"Ready"}, timeout=180)
    sources = sorted((refs[s1]["source_store_id"] or 0, refs[s2]["source_store_id"] or 0))
    assert sources in ([0, s1], [0, s2])  # one store fetched the origin, the other replicated from it
    for store_id, export in ((s1, "secondary"), (s2, "secondary2")):
        ref = refs[store_id]
        on_server = exports.exports[export] / ref["install_path"]
        assert hashlib.sha256(on_server.read_bytes()).hexdigest() == digest, export
        assert ref["size"] == 48 * MIB and ref["checksum"] == "{SHA256}" + digest
        with NfsStorageDriver(exports.url(export)) as driver:
            assert driver.get_volume(ref["install_path"]).virtual_size == 48 * MIB

    # First use on NFS primary storage in zone 2: one qemu-img convert from zone 2's store, then counted.
    cluster = cloud.cluster("kvm2")
    pool_id = cloud.run(
        insert(storage_pool).values(
            name="nfs-primary",
            pool_type="NetworkFilesystem",
            scope="ZONE",
            url=exports.url("primary"),
            host_address=exports.host,
            path=str(exports.exports["primary"]),
            zone_id=z2,
            hypervisor_type="KVM",
            details={},
        )
    )
    assert cluster
    with db_engine.begin() as conn:
        pool = dict(pool_row_by_id(conn, pool_id))
    location = acquire_base_image(db_engine, tid, pool)
    assert location == f"{exports.url('primary')}/tmpl-{tid}.qcow2"
    assert acquire_base_image(db_engine, tid, pool) == location
    base = exports.exports["primary"] / f"tmpl-{tid}.qcow2"
    qemu_img("compare", "-f", "qcow2", "-F", "qcow2", str(image), str(base))
    assert release_base_image(db_engine, tid, pool) is False
    assert release_base_image(db_engine, tid, pool) is True
    with NfsStorageDriver(exports.url("primary")) as driver:
        assert [volume.name for volume in driver.list_volumes()] == []
