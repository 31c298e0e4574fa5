"""Data volumes on a real iSCSI primary pool (tgt on 127.0.0.1, LUNs of 64 and 32 MiB) reached in user space:
each volume gets a LUN no other volume uses, is written and read back raw with qemu-io over iscsi://, and gives
its LUN back when deleted; a data volume still Allocated when its VM starts (a deployment's ``diskofferingid``)
gets its LUN at that start the same way; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, insert, select, update

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.compute.types import SourceKind, VMSpec
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import disk_offering, storage_pool, vm_instance, volume, zone
from provisioner.exceptions import ApiError, DriverError
from provisioner.services.compute import capacity
from provisioner.services.compute.host_drivers import use_host_driver_opener
from provisioner.services.compute.lifecycle import service
from provisioner.services.compute.vms import VmSpec, allocate_vm
from provisioner.services.principal import RoleType
from provisioner.services.volumes import lifecycle, operations
from tests.integration.volumes.support import qemu_io
from tests.support.iscsi import IscsiTarget, iscsi_target
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud
from tests.unit.services.volumes.world import caller

pytestmark = pytest.mark.integration

__all__ = ["iscsi_target"]

MIB = 1 << 20


@pytest.fixture
def iscsi_cloud(db_engine: Engine, iscsi_target: IscsiTarget) -> dict[str, Any]:
    """A KVM zone whose cluster pool tagged ``lun`` is the tgt target, two Stopped VMs that ran in the cluster, and
    a 30 MiB disk offering whose storage tag ``lun`` sends its volumes to that pool."""
    cloud = Cloud(db_engine)
    cluster = cloud.cluster("c1", hypervisor="KVM")
    host_id = cloud.host(cluster, "kvm1")
    pool_id = cloud.pool("iscsi-primary", cluster_id=cluster, capacity_gib=1, pool_type="IscsiLUN", tags=["lun"])
    offering = cloud.run(insert(disk_offering).values(name="lun", display_text="lun", disk_size=30 * MIB, tags="lun"))
    small = cloud.offering("small", root_gib=1)
    specs = [
        VmSpec(
            name=name,
            zone_id=cloud.zone_id,
            service_offering_id=small,
            account_id=cloud.accounts["alice"],
            domain_id=cloud.domain_id,
            hypervisor="KVM",
            start=False,
        )
        for name in ("db1", "db2")
    ]
    made = [run_in_transaction(db_engine, partial(allocate_vm, spec=spec, settings=FIRSTFIT)) for spec in specs]
    other = cloud.pool("nfs-root", cluster_id=cluster)
    with db_engine.begin() as conn:
        conn.execute(
            update(storage_pool)
            .where(storage_pool.c.id == pool_id)
            .values(url=iscsi_target.url("primary"), details={"luns": [1, 2]})
        )  # LUNs named: discovery would log in to the portal's other target, which needs CHAP
        for vm in made:
            conn.execute(update(vm_instance).where(vm_instance.c.id == vm.id).values(last_host_id=host_id))
            # Its ROOT volume is Ready on another (NFS) pool of the cluster, whose disk is never touched here.
            ready = {"state": "Ready", "pool_id": other, "path": f"r{vm.id}"}
            conn.execute(update(volume).where(volume.c.vm_id == vm.id).values(**ready))
        capacity.recalculate(conn)
        zone_uuid = conn.execute(select(zone.c.uuid)).scalar_one()
        offering_uuid = conn.execute(select(disk_offering.c.uuid).where(disk_offering.c.id == offering)).scalar_one()
    return {
        "vm": made[0].uuid,
        "vm2": made[1].uuid,
        "zone": str(zone_uuid),
        "offering": str(offering_uuid),
        "alice": caller(db_engine, cloud.accounts["alice"], RoleType.USER),
    }


def new_volume(engine: Engine, world: dict[str, Any], name: str) -> str:
    made = run_in_transaction(
        engine,
        lambda conn: lifecycle.create_volume_row(
            conn,
            world["alice"],
            name=name,
            zoneid=world["zone"],
            diskofferingid=world["offering"],
            size=None,
            snapshotid=None,
            account_name=None,
            domainid=None,
        ),
    )
    return made.uuid


def test_data_volumes_take_free_luns_and_hold_data(
    db_engine: Engine, iscsi_cloud: dict[str, Any], iscsi_target: IscsiTarget
) -> None:
    alice, vm = iscsi_cloud["alice"], iscsi_cloud["vm"]
    first = new_volume(db_engine, iscsi_cloud, "first")
    second = new_volume(db_engine, iscsi_cloud, "second")
    attached = {uuid: operations.attach_volume(db_engine, alice, uuid, vm) for uuid in (first, second)}
    with db_engine.connect() as conn:
        paths = dict(conn.execute(select(volume.c.uuid, volume.c.path).where(volume.c.uuid.in_([first, second]))).all())
    assert paths == {first: "lun2", second: "lun1"}  # the smallest LUN that fits first
    assert all(row["state"] == "Ready" for row in attached.values())

    # Data written through the volume's iscsi:// URL lands on the LUN's backing file.
    uri = iscsi_target.url("primary", 2)
    qemu_io(uri, "write -P 0x5a 0 1M", "raw")
    assert "Pattern verification failed" not in qemu_io(uri, "read -P 0x5a 0 1M", "raw")
    with open(iscsi_target.luns[("primary", 2)], "rb") as lun:
        assert lun.read(4096) == b"\x5a" * 4096

    # No LUN is left: a third volume fails cleanly and stays Allocated, detached, holding nothing.
    third = new_volume(db_engine, iscsi_cloud, "third")
    with pytest.raises(DriverError, match="no free LUN"):
        operations.attach_volume(db_engine, alice, third, vm)
    with db_engine.connect() as conn:
        row = conn.execute(select(volume).where(volume.c.uuid == third)).one()
    assert (row.state, row.pool_id, row.vm_id) == ("Allocated", None, None)
    assert run_in_transaction(db_engine, capacity.drift) == []

    # Deleting a volume gives its LUN back, and the next volume gets it.
    operations.detach_volume(db_engine, alice, first)
    operations.delete_volume(db_engine, alice, first)
    assert operations.attach_volume(db_engine, alice, third, vm)["state"] == "Ready"
    with db_engine.connect() as conn:
        assert conn.execute(select(volume.c.path).where(volume.c.uuid == third)).scalar_one() == "lun2"
    assert run_in_transaction(db_engine, capacity.drift) == []


class RecordingHost(SimulatorDriver):
    """A simulated KVM host remembering every spec it was asked to define."""

    defined: ClassVar[list[VMSpec]] = []

    def define_vm(self, spec: VMSpec) -> Any:
        RecordingHost.defined.append(spec)
        return super().define_vm(spec)


@pytest.fixture
def recording_host() -> Iterator[list[VMSpec]]:
    CLOUD.reset()
    RecordingHost.defined = []
    with use_host_driver_opener(lambda row: RecordingHost(f"http://sim/c1/{row['name']}")):
        yield RecordingHost.defined
    CLOUD.reset()


def link_data_volume(engine: Engine, world: dict[str, Any], name: str, device_id: int, vm: str = "vm") -> str:
    """An Allocated DATADISK of the VM with no pool yet, as a deployment with ``diskofferingid`` leaves it."""
    uuid = new_volume(engine, world, name)
    with engine.begin() as conn:
        vm_id = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == world[vm])).scalar_one()
        conn.execute(update(volume).where(volume.c.uuid == uuid).values(vm_id=vm_id, device_id=device_id))
    return uuid


def volume_rows(engine: Engine, uuids: list[str]) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(volume.c.uuid, volume.c.state, volume.c.path).where(volume.c.uuid.in_(uuids)))
        return {row.uuid: (row.state, row.path) for row in rows}


def test_a_cold_start_gives_allocated_data_volumes_free_luns(
    db_engine: Engine, iscsi_cloud: dict[str, Any], iscsi_target: IscsiTarget, recording_host: list[VMSpec]
) -> None:
    alice, vm = iscsi_cloud["alice"], iscsi_cloud["vm"]
    first = link_data_volume(db_engine, iscsi_cloud, "first", 1)
    second = link_data_volume(db_engine, iscsi_cloud, "second", 2)

    assert service.start_vm(db_engine, alice, vm)["state"] == "Running"
    # attachVolume's choice: the smallest LUN that holds 30 MiB first, then the other; the VM got both.
    assert volume_rows(db_engine, [first, second]) == {first: ("Ready", "lun2"), second: ("Ready", "lun1")}
    (spec,) = recording_host
    assert [(d.device_id, d.source, d.source_kind) for d in spec.disks[1:]] == [
        (1, iscsi_target.url("primary", 2), SourceKind.ISCSI),
        (2, iscsi_target.url("primary", 1), SourceKind.ISCSI),
    ]
    assert run_in_transaction(db_engine, capacity.drift) == []

    # A restart keeps the LUNs.
    service.stop_vm(db_engine, alice, vm)
    service.start_vm(db_engine, alice, vm)
    assert volume_rows(db_engine, [first, second]) == {first: ("Ready", "lun2"), second: ("Ready", "lun1")}


def test_a_start_without_a_free_lun_fails_and_claims_nothing(
    db_engine: Engine, iscsi_cloud: dict[str, Any], recording_host: list[VMSpec]
) -> None:
    alice, vm = iscsi_cloud["alice"], iscsi_cloud["vm"]
    uuids = [link_data_volume(db_engine, iscsi_cloud, f"d{n}", n) for n in (1, 2, 3)]
    with pytest.raises(ApiError, match="no free LUN"):
        service.start_vm(db_engine, alice, vm)
    assert recording_host == []
    with db_engine.connect() as conn:
        rows = conn.execute(select(volume.c.state, volume.c.pool_id, volume.c.path).where(volume.c.uuid.in_(uuids)))
        assert sorted(tuple(r) for r in rows) == [("Allocated", None, None)] * 3
        assert conn.execute(select(vm_instance.c.state).where(vm_instance.c.uuid == vm)).scalar_one() == "Stopped"
    assert run_in_transaction(db_engine, capacity.drift) == []


def test_a_start_that_fails_on_the_host_gives_its_luns_back(
    db_engine: Engine, iscsi_cloud: dict[str, Any], iscsi_target: IscsiTarget, recording_host: list[VMSpec]
) -> None:
    """The LUNs are claimed on the volume rows before the VM starts; a start the host refuses drops the claim."""
    alice, vm = iscsi_cloud["alice"], iscsi_cloud["vm"]
    first = link_data_volume(db_engine, iscsi_cloud, "first", 1)
    CLOUD.add_host("http://sim/c1/kvm1").fail_next("start_vm")
    with pytest.raises(ApiError, match="injected failure of start_vm"):
        service.start_vm(db_engine, alice, vm)
    assert [d.source for d in recording_host[0].disks[1:]] == [iscsi_target.url("primary", 2)]  # it was defined
    assert volume_rows(db_engine, [first]) == {first: ("Allocated", None)}
    assert run_in_transaction(db_engine, capacity.drift) == []
    # The next start takes the same LUN again.
    service.start_vm(db_engine, alice, vm)
    assert volume_rows(db_engine, [first]) == {first: ("Ready", "lun2")}


def test_concurrent_starts_on_one_pool_get_different_luns(
    db_engine: Engine, iscsi_cloud: dict[str, Any], recording_host: list[VMSpec]
) -> None:
    """The choice and its record are one transaction holding the pool row: neither start takes the other's LUN."""
    alice = iscsi_cloud["alice"]
    volumes = [link_data_volume(db_engine, iscsi_cloud, f"d-{vm}", 1, vm) for vm in ("vm", "vm2")]
    with ThreadPoolExecutor(2) as pool:
        states = list(pool.map(lambda vm: service.start_vm(db_engine, alice, iscsi_cloud[vm])["state"], ["vm", "vm2"]))
    assert states == ["Running", "Running"]
    rows = volume_rows(db_engine, volumes)
    assert sorted(rows.values()) == [("Ready", "lun1"), ("Ready", "lun2")]
    assert run_in_transaction(db_engine, capacity.drift) == []
