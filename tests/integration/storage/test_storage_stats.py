"""Pool and image store capacity read from the storage itself: a real ganesha export and tgt LUN on 127.0.0.1.

The management server does not mount the export: the figures come from FSSTAT over NFSv3 RPC and
from READ CAPACITY 16 (libiscsi), and reach ``listStoragePools`` / ``listImageStores`` rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from provisioner.db.schema import storage_pool
from provisioner.services.infrastructure import image_stores, storage_pools, storage_stats, zones
from provisioner.services.infrastructure.seed import seed_infrastructure
from provisioner.services.principal import Caller
from tests.support.iscsi import IscsiTarget
from tests.support.nfs import NfsServer
from tests.support.server import LiveServer, sqlite_server
from tests.unit.services.helpers import admin_caller, make_identity

pytestmark = pytest.mark.integration
__all__ = ["sqlite_server"]  # the ``server`` fixture

MIB = 1 << 20


@pytest.fixture
def admin(db_engine: Engine, tmp_path: Path) -> Caller:
    identity = make_identity(db_engine, tmp_path / "files")
    with db_engine.begin() as conn:
        seed_infrastructure(conn)
    return admin_caller(identity, identity.directory)


def _zone(db_engine: Engine, admin: Caller) -> str:
    with db_engine.begin() as conn:
        zone = zones.create_zone(
            conn, admin, name="z1", networktype="Advanced", dns1="8.8.8.8", internaldns1="10.0.0.2"
        )
    return str(zone["id"])


def _pool(db_engine: Engine, admin: Caller, zone: str, name: str, url: str, **options: object) -> dict[str, object]:
    """Add a pool and measure it after the commit, as ``createStoragePool`` does."""
    with db_engine.begin() as conn:
        created = storage_pools.create_storage_pool(
            conn, admin, zoneid=zone, name=name, url=url, scope="zone", hypervisor="KVM", **options
        )
    storage_stats.refresh_pools(db_engine, [str(created["id"])])
    return _listed(db_engine, admin, created["id"])


def _listed(db_engine: Engine, admin: Caller, pool_id: object) -> dict[str, object]:
    with db_engine.begin() as conn:
        rows, _count = storage_pools.list_storage_pools(conn, admin, id=str(pool_id))
    return rows[0]


def _filesystem(path: Path) -> tuple[int, int]:
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize, (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def test_nfs_pool_and_store_report_the_servers_capacity(
    db_engine: Engine, admin: Caller, nfs_server: NfsServer
) -> None:
    zone = _zone(db_engine, admin)
    pool = _pool(db_engine, admin, zone, "nfs1", nfs_server.url("primary"))
    total, used = _filesystem(nfs_server.exports["primary"])
    assert pool["state"] == "Up"
    assert pool["disksizetotal"] == total > 0
    assert abs(int(pool["disksizeused"]) - used) < 64 * MIB  # other tests write to the same file system
    assert pool["disksizeallocated"] == 0

    with db_engine.begin() as conn:
        store = image_stores.add_image_store(conn, admin, url=nfs_server.url("secondary"), zoneid=zone, name="ss1")
    assert store["disksizetotal"] == 0  # measured after the commit, with no transaction open

    # A later round keeps following the server; an operator's size stays the total.
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).values(used_bytes=0))
        storage_pools.update_storage_pool(conn, admin, str(pool["id"]), capacitybytes=5 << 40)
    sized = _pool(db_engine, admin, zone, "nfs2", nfs_server.url("secondary"), capacitybytes=7 << 40)
    measured = storage_stats.refresh_pools(db_engine)
    assert not measured[str(pool["id"])].problem
    assert _listed(db_engine, admin, pool["id"])["disksizetotal"] == 5 << 40
    assert _listed(db_engine, admin, pool["id"])["disksizeused"] > 0  # the server's figure again
    assert _listed(db_engine, admin, sized["id"])["disksizetotal"] == 7 << 40
    storage_stats.refresh_stores(db_engine)
    with db_engine.begin() as conn:
        rows, _count = image_stores.list_image_stores(conn, admin, id=str(store["id"]))
    assert rows[0]["disksizetotal"] == _filesystem(nfs_server.exports["secondary"])[0]


def test_a_pool_whose_server_does_not_answer_is_down_until_it_answers(
    db_engine: Engine, admin: Caller, nfs_server: NfsServer
) -> None:
    zone = _zone(db_engine, admin)
    # Nothing exports this path: the server refuses the MOUNT.
    gone = _pool(db_engine, admin, zone, "gone", f"nfs://{nfs_server.host}/nonexistent/export")
    assert (gone["state"], gone["disksizetotal"]) == ("Down", 0)
    # A pool seen Down by an earlier round comes back Up, with its figures, once its server answers.
    back = _pool(db_engine, admin, zone, "back", nfs_server.url("primary"))
    disabled = _pool(db_engine, admin, zone, "off", nfs_server.url("secondary"))
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).where(storage_pool.c.name == "back").values(state="Down", capacity_bytes=0))
        storage_pools.update_storage_pool(conn, admin, str(disabled["id"]), enabled=False)
    measured = storage_stats.refresh_pools(db_engine)
    assert "nonexistent" in measured[str(gone["id"])].problem
    assert _listed(db_engine, admin, gone["id"])["state"] == "Down"
    assert _listed(db_engine, admin, back["id"])["state"] == "Up"
    assert _listed(db_engine, admin, back["id"])["disksizetotal"] == _filesystem(nfs_server.exports["primary"])[0]
    assert _listed(db_engine, admin, disabled["id"])["state"] == "Disabled"
    assert str(disabled["id"]) not in measured


def test_iscsi_pool_reports_its_lun_size(db_engine: Engine, admin: Caller, iscsi_target: IscsiTarget) -> None:
    zone = _zone(db_engine, admin)
    pool = _pool(db_engine, admin, zone, "lun1", iscsi_target.url("primary", 1))
    # The target calls every LUN in use; used is what the cloud allocated (none yet), so volumes still fit.
    assert (pool["state"], pool["disksizetotal"], pool["disksizeused"]) == ("Up", 64 * MIB, 0)
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).values(allocated_bytes=16 * MIB))
    storage_stats.refresh_pools(db_engine)
    assert _listed(db_engine, admin, pool["id"])["disksizeused"] == 16 * MIB


def test_the_api_answers_the_measured_bytes(server: LiveServer, nfs_server: NfsServer) -> None:
    api = server.api
    zone = api.createZone(name="z1", networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54")["zone"]
    pool = api.createStoragePool(
        zoneid=zone["id"], name="nfs1", url=nfs_server.url("primary"), scope="zone", hypervisor="KVM"
    )["storagepool"]
    total = _filesystem(nfs_server.exports["primary"])[0]
    assert (pool["state"], pool["disksizetotal"]) == ("Up", total)
    assert api.listStoragePools(id=pool["id"])["storagepool"][0]["disksizeused"] > 0
    store = api.addImageStore(provider="NFS", zoneid=zone["id"], name="ss1", url=nfs_server.url("secondary"))
    assert store["imagestore"]["disksizetotal"] == _filesystem(nfs_server.exports["secondary"])[0]
