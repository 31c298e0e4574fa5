"""Volumes on a real NFS primary pool (nfs-ganesha on 127.0.0.1), reached in user space with qemu-img: a qcow2
data disk is created on first attach, written and read back with qemu-io, snapshotted, reverted, cloned into a
new volume, resized and deleted, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import storage_pool, vm_instance, volume
from provisioner.services.compute import capacity
from provisioner.services.compute.vms import VmSpec, allocate_vm
from provisioner.services.principal import RoleType
from provisioner.services.snapshots import volume_snapshots
from provisioner.services.volumes import lifecycle, migration, operations
from provisioner.storage import qemu
from tests.integration.volumes.support import qemu_io
from tests.support.nfs import NfsServer, nfs_server
from tests.support.tools import require_tool
from tests.unit.services.compute.cloud import FIRSTFIT, GIB, Cloud
from tests.unit.services.volumes.world import caller

pytestmark = pytest.mark.integration

__all__ = ["nfs_server"]


def holds(uri: str, pattern: int) -> bool:
    """Whether the first MiB of the image reads back as ``pattern``."""
    return "Pattern verification failed" not in qemu_io(uri, f"read -P {pattern:#x} 0 1M")


@pytest.fixture
def nfs_cloud(db_engine: Engine, nfs_server: NfsServer) -> dict[str, Any]:
    """A KVM zone whose cluster pool is the ganesha export, and a Stopped VM whose ROOT disk lives there."""
    nfs_server.empty("primary")
    nfs_server.empty("secondary2")
    cloud = Cloud(db_engine)
    cluster = cloud.cluster("c1", hypervisor="KVM")
    host_id = cloud.host(cluster, "kvm1")
    pool_id = cloud.pool("nfs-primary", cluster_id=cluster, capacity_gib=100)
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).where(storage_pool.c.id == pool_id).values(url=nfs_server.url("primary")))
    spec = VmSpec(
        name="db1",
        zone_id=cloud.zone_id,
        service_offering_id=cloud.offering("small", root_gib=1),
        account_id=cloud.accounts["alice"],
        domain_id=cloud.domain_id,
        hypervisor="KVM",
        start=False,
    )
    made = run_in_transaction(db_engine, lambda conn: allocate_vm(conn, spec, settings=FIRSTFIT))
    with db_engine.begin() as conn:
        # The VM ran on kvm1 before: its ROOT volume is Ready on the pool (and holds its bytes there).
        conn.execute(update(vm_instance).where(vm_instance.c.id == made.id).values(last_host_id=host_id))
        conn.execute(
            update(volume).where(volume.c.vm_id == made.id).values(state="Ready", pool_id=pool_id, path="root-db1")
        )
        capacity.recalculate(conn)
    return {
        "cloud": cloud,
        "vm": made.uuid,
        "export": nfs_server.exports["primary"],
        "cluster": cluster,
        "second_url": nfs_server.url("secondary2"),
        "second_export": nfs_server.exports["secondary2"],
        "url": nfs_server.url("primary"),
        "alice": caller(db_engine, cloud.accounts["alice"], RoleType.USER),
    }


def test_a_qcow2_data_volume_on_the_nfs_pool(db_engine: Engine, nfs_cloud: dict[str, Any]) -> None:
    require_tool("qemu-img")
    alice, export, url = nfs_cloud["alice"], Path(nfs_cloud["export"]), nfs_cloud["url"]
    offering = nfs_cloud["cloud"].disk_offering("data", size_gib=1)
    offering_uuid, zone_uuid = _uuid_of_offering(db_engine, offering), _zone_uuid(db_engine)
    made = run_in_transaction(
        db_engine,
        lambda conn: lifecycle.create_volume_row(
            conn,
            alice,
            name="data",
            zoneid=zone_uuid,
            diskofferingid=offering_uuid,
            size=None,
            snapshotid=None,
            account_name=None,
            domainid=None,
        ),
    )
    attached = operations.attach_volume(db_engine, alice, made.uuid, nfs_cloud["vm"])
    assert attached["state"] == "Ready" and attached["deviceid"] == 1
    disk = f"{url}/{made.uuid}"
    assert (export / made.uuid).exists()
    info = qemu.info(disk, timeout=60)
    assert (info["format"], info["virtual-size"]) == ("qcow2", GIB)

    qemu_io(disk, "write -P 0xab 0 1M")
    snap = volume_snapshots.take_snapshot(
        db_engine,
        alice,
        run_in_transaction(
            db_engine, lambda conn: volume_snapshots.create_snapshot_row(conn, alice, made.uuid, "before")
        ),
    )
    assert snap["state"] == "BackedUp"
    assert [s["name"] for s in qemu.info(disk, timeout=60).get("snapshots", [])] == [snap["id"]]
    qemu_io(disk, "write -P 0xcd 0 1M")
    assert holds(disk, 0xCD)
    volume_snapshots.revert_snapshot(db_engine, alice, snap["id"])  # the VM is stopped
    assert holds(disk, 0xAB)

    # A new volume from the snapshot carries its data.
    clone_row = run_in_transaction(
        db_engine,
        lambda conn: lifecycle.create_volume_row(
            conn,
            alice,
            name="clone",
            zoneid=None,
            diskofferingid=None,
            size=None,
            snapshotid=snap["id"],
            account_name=None,
            domainid=None,
        ),
    )
    clone = operations.create_volume(db_engine, alice, clone_row.uuid, snapshot_uuid=snap["id"])
    assert clone["state"] == "Ready"
    assert holds(f"{url}/{clone_row.uuid}", 0xAB)

    # Resize grows the qcow2's virtual size; delete removes the file and the reservation.
    operations.detach_volume(db_engine, alice, made.uuid)
    custom = _custom_offering(nfs_cloud["cloud"], db_engine)
    grown = operations.resize_volume(db_engine, alice, made.uuid, size=2, diskofferingid=custom)
    assert grown["size"] == 2 * GIB
    assert qemu.info(disk, timeout=60)["virtual-size"] == 2 * GIB
    volume_snapshots.delete_snapshot(db_engine, alice, snap["id"])
    assert not qemu.info(disk, timeout=60).get("snapshots")

    # migrateVolume copies the disk to a second NFS pool of the cluster and deletes the first copy.
    second = nfs_cloud["cloud"].pool("nfs-second", cluster_id=nfs_cloud["cluster"], capacity_gib=100)
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).where(storage_pool.c.id == second).values(url=nfs_cloud["second_url"]))
        second_uuid = conn.execute(select(storage_pool.c.uuid).where(storage_pool.c.id == second)).scalar_one()
    moved = migration.migrate_volume(db_engine, alice, made.uuid, second_uuid)
    assert moved["state"] == "Ready" and not (export / made.uuid).exists()
    disk = f"{nfs_cloud['second_url']}/{made.uuid}"
    assert holds(disk, 0xAB) and qemu.info(disk, timeout=60)["virtual-size"] == 2 * GIB
    for uuid in (made.uuid, clone_row.uuid):
        operations.delete_volume(db_engine, alice, uuid)
        assert not (export / uuid).exists() and not (Path(nfs_cloud["second_export"]) / uuid).exists()
    assert run_in_transaction(db_engine, capacity.drift) == []


def _zone_uuid(engine: Engine) -> str:
    from provisioner.db.schema import zone

    with engine.connect() as conn:
        return str(conn.execute(select(zone.c.uuid)).scalar_one())


def _uuid_of_offering(engine: Engine, offering_id: int) -> str:
    from provisioner.db.schema import disk_offering

    with engine.connect() as conn:
        return str(conn.execute(select(disk_offering.c.uuid).where(disk_offering.c.id == offering_id)).scalar_one())


def _custom_offering(cloud: Cloud, engine: Engine) -> str:
    from sqlalchemy import insert

    from provisioner.db.schema import disk_offering

    offering_id = cloud.run(
        insert(disk_offering).values(name="custom", display_text="custom", disk_size=0, is_customized=True)
    )
    return _uuid_of_offering(engine, offering_id)
