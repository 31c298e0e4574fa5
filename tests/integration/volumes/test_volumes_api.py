"""Volumes, snapshots and VM snapshots through a live server on the simulator with ``cs`` (SQLite and
PostgreSQL): the whole lifecycle, pool capacity that adds up, tags, and who may see and change what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cs import CloudStackApiException

from tests.integration.volumes.support import GIB, VolumeCloud, build_volume_cloud, pool_allocated
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(live_server: LiveServer) -> VolumeCloud:
    """The simulated cloud of these tests."""
    return build_volume_cloud(live_server)


def code(call: Callable[[], Any]) -> int:
    """The CloudStack error code ``call`` fails with."""
    with pytest.raises(CloudStackApiException) as failed:
        call()
    return int(failed.value.error["errorcode"])


def test_volume_lifecycle_capacity_and_snapshots(cloud: VolumeCloud) -> None:
    api, vm, pool = cloud.clients["root"], cloud.vm, cloud.zone.pool
    before = pool_allocated(api, pool)
    created = api.createVolume(name="data1", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)["volume"]
    assert (created["state"], created["type"], created["size"]) == ("Allocated", "DATADISK", 5 * GIB)
    assert pool_allocated(api, pool) == before  # nothing reserved until the volume is placed
    attached = api.attachVolume(id=created["id"], virtualmachineid=vm["id"])["volume"]
    assert (attached["state"], attached["deviceid"], attached["virtualmachineid"]) == ("Ready", 1, vm["id"])
    assert attached["storageid"] == pool and attached["path"]
    assert pool_allocated(api, pool) == before + 5 * GIB
    listed = api.listVolumes(virtualmachineid=vm["id"])
    assert listed["count"] == 2 and {v["type"] for v in listed["volume"]} == {"ROOT", "DATADISK"}
    assert api.listVolumes(type="DATADISK", zoneid=cloud.zone.zone, storageid=pool)["volume"][0]["id"] == created["id"]

    with pytest.raises(CloudStackApiException, match="not attached to any VM"):
        api.deleteVolume(id=created["id"])
    snap = api.createSnapshot(volumeid=created["id"], name="snap1")["snapshot"]
    assert (snap["state"], snap["volumeid"], snap["virtualsize"]) == ("BackedUp", created["id"], 5 * GIB)
    assert api.listSnapshots(volumeid=created["id"])["snapshot"][0]["name"] == "snap1"
    restored = api.createVolume(name="restored", snapshotid=snap["id"])["volume"]
    assert (restored["state"], restored["size"]) == ("Ready", 5 * GIB)
    assert pool_allocated(api, pool) == before + 10 * GIB
    assert api.deleteSnapshot(id=snap["id"]) == {"success": True}
    assert api.listSnapshots(id=snap["id"]) == {}

    # Resize a customised volume; the pool's reservation follows it.
    custom = api.createVolume(name="grow", zoneid=cloud.zone.zone, diskofferingid=cloud.custom, size=2)["volume"]
    api.attachVolume(id=custom["id"], virtualmachineid=vm["id"])
    assert api.resizeVolume(id=custom["id"], size=4)["volume"]["size"] == 4 * GIB
    assert pool_allocated(api, pool) == before + 14 * GIB
    with pytest.raises(CloudStackApiException, match="shrinkok"):
        api.resizeVolume(id=custom["id"], size=1)

    # Tags on volumes and the tags filter.
    api.createTags(resourceids=custom["id"], resourcetype="Volume", tags=[{"key": "tier", "value": "gold"}])
    tagged = api.listVolumes(tags=[{"key": "tier", "value": "gold"}])["volume"]
    assert [v["id"] for v in tagged] == [custom["id"]] and tagged[0]["tags"][0]["value"] == "gold"

    # Detach both, delete everything: capacity returns to where it was.
    for volume_id in (created["id"], custom["id"]):
        assert "virtualmachineid" not in api.detachVolume(id=volume_id)["volume"]
        detached = api.listVolumes(id=volume_id)["volume"][0]
        assert "virtualmachineid" not in detached and detached["state"] == "Ready"
        assert api.deleteVolume(id=volume_id) == {"success": True}
    assert api.deleteVolume(id=restored["id"]) == {"success": True}
    assert pool_allocated(api, pool) == before
    assert api.listVolumes(type="DATADISK", listall=True) == {}


def test_vm_snapshots(cloud: VolumeCloud) -> None:
    api, vm = cloud.clients["root"], cloud.vm
    first = api.createVMSnapshot(virtualmachineid=vm["id"], name="first", description="before")["vmsnapshot"]
    assert (first["state"], first["type"], first["current"], first["displayname"]) == ("Ready", "Disk", True, "first")
    second = api.createVMSnapshot(virtualmachineid=vm["id"], name="second", snapshotmemory=True)["vmsnapshot"]
    assert (second["type"], second["parent"], second["current"]) == ("DiskAndMemory", first["id"], True)
    listed = api.listVMSnapshot(virtualmachineid=vm["id"])
    assert listed["count"] == 2 and {s["displayname"]: s["current"] for s in listed["vmSnapshot"]} == {
        "first": False,
        "second": True,
    }
    assert code(lambda: api.revertToVMSnapshot(vmsnapshotid=first["id"])) == 431  # disk-only needs a stopped VM
    reverted = api.revertToVMSnapshot(vmsnapshotid=second["id"])
    assert reverted["virtualmachine"]["id"] == vm["id"]
    assert code(lambda: api.attachVolume(id=_volume(api, cloud), virtualmachineid=vm["id"])) == 431
    api.stopVirtualMachine(id=vm["id"])
    api.revertToVMSnapshot(vmsnapshotid=first["id"])
    assert api.listVMSnapshot(vmsnapshotid=first["id"])["vmSnapshot"][0]["current"] is True
    assert api.deleteVMSnapshot(vmsnapshotid=first["id"]) == {"success": True}
    remaining = api.listVMSnapshot(virtualmachineid=vm["id"])["vmSnapshot"]
    assert [s["id"] for s in remaining] == [second["id"]] and "parent" not in remaining[0]
    assert api.deleteVMSnapshot(vmsnapshotid=second["id"]) == {"success": True}
    assert api.listVMSnapshot(virtualmachineid=vm["id"]) == {}


def _volume(api: Any, cloud: VolumeCloud) -> str:
    return str(api.createVolume(name="late", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)["volume"]["id"])


def test_permission_matrix(cloud: VolumeCloud) -> None:
    alice, bob, dadmin, root = (cloud.clients[name] for name in ("alice", "bob", "dadmin", "root"))
    mine = alice.createVolume(name="mine", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)["volume"]
    assert mine["account"] == "alice" and "storageid" not in mine
    # Who sees it: alice, her domain admin (with listall), root (with listall or by id); not bob.
    assert [v["id"] for v in alice.listVolumes()["volume"]] == [mine["id"]]
    assert bob.listVolumes() == {} and bob.listVolumes(id=mine["id"]) == {}
    assert dadmin.listVolumes() == {}
    assert [v["id"] for v in dadmin.listVolumes(listall=True)["volume"]] == [mine["id"]]
    assert root.listVolumes(id=mine["id"])["volume"][0]["account"] == "alice"
    # Who may change it.
    assert code(lambda: bob.deleteVolume(id=mine["id"])) == 531
    assert code(lambda: bob.resizeVolume(id=mine["id"], size=10)) == 531
    assert code(lambda: bob.attachVolume(id=mine["id"], virtualmachineid=cloud.vm["id"])) == 531
    assert code(lambda: alice.attachVolume(id=mine["id"], virtualmachineid=cloud.vm["id"])) == 531  # root's VM
    assert code(lambda: bob.createSnapshot(volumeid=mine["id"])) == 531
    assert code(lambda: bob.createVMSnapshot(virtualmachineid=cloud.vm["id"])) == 531
    assert code(lambda: alice.createVolume(zoneid=cloud.zone.zone, diskofferingid=cloud.custom, size=5000)) == 431
    # A domain admin may act on volumes of its domain.
    assert dadmin.deleteVolume(id=mine["id"]) == {"success": True}
    assert alice.listVolumes() == {}
