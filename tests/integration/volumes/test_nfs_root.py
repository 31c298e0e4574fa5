"""Root disks on a real NFS primary pool (nfs-ganesha on 127.0.0.1) for KVM hosts without a kernel mount, through
the VM lifecycle on SQLite and PostgreSQL: the template's base image is copied to the export once, each root disk
is a qcow2 overlay made on the export whose backing is the base image's ``nfs://`` URL, the host is given ``nfs://``
network disks, a data disk of the deployment is made empty on the export, and expunges delete the overlays and,
with the last user, the base image.

A host with the kernel mount at ``/mnt/<pool uuid>`` gets files there instead: root overlays it makes itself on
the base image's path under the mount, and the data disk made on the export. The host is the compute simulator
told whether it has the mount (the booting guest is in tests/e2e/compute/test_template_to_guest.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.compute.drivers.simulator.driver import SimulatorDriver
from provisioner.compute.types import SourceKind, VMSpec
from provisioner.db.schema import (
    disk_offering,
    guest_network,
    host,
    image_store,
    service_offering,
    storage_pool,
    template_pool_ref,
    vm_instance,
    vm_template,
    volume,
    zone,
)
from provisioner.exceptions import ApiError
from provisioner.services.compute.host_drivers import use_host_driver_opener
from provisioner.services.compute.lifecycle import service
from provisioner.services.principal import Caller, RoleType
from provisioner.services.volumes import operations
from tests.support.nfs import NfsServer, nfs_server
from tests.support.tools import require_tool
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.compute.lifecycle.conftest import caller_for, offering_and_template
from tests.unit.services.templates.test_deploy import mark_ready

pytestmark = pytest.mark.integration

__all__ = ["nfs_server"]
MIB = 1 << 20


class Host(SimulatorDriver):
    """A simulated KVM host that mounts NFS pools or not, remembering every spec it was asked to define."""

    mounted = False
    defined: list[VMSpec] = []

    def mounts(self, directory: str) -> bool:
        return Host.mounted

    def define_vm(self, spec: VMSpec) -> Any:
        Host.defined.append(spec)
        return super().define_vm(spec)


@contextmanager
def hosts(*, mounted: bool) -> Iterator[list[VMSpec]]:
    Host.mounted, Host.defined = mounted, []

    def opener(row: Mapping[str, Any]) -> SimulatorDriver:
        return Host(row["url"])

    with use_host_driver_opener(opener):
        yield Host.defined


@dataclass
class NfsZone:
    engine: Engine
    alice: Caller
    admin: Caller
    params: dict[str, object]
    export: Path
    url: str
    template_id: int
    pool_uuid: str


@pytest.fixture
def nfs_zone(db_engine: Engine, nfs_server: NfsServer, tmp_path: Path) -> Iterator[NfsZone]:
    """A KVM zone whose only pool is the ganesha ``primary`` export and whose image store holds a qcow2 template."""
    qemu_img = require_tool("qemu-img")
    for export in ("primary", "secondary"):
        nfs_server.empty(export)
    local = tmp_path / "tiny.qcow2"
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", str(local), "64M"], check=True, timeout=60)
    image = f"{nfs_server.url('secondary')}/tiny.qcow2"
    subprocess.run([qemu_img, "convert", "-q", "-O", "qcow2", str(local), image], check=True, timeout=60)
    cloud = Cloud(db_engine)
    cluster_id = cloud.cluster("c1", hypervisor="KVM")
    host_ids = [cloud.host(cluster_id, f"kvm{i}") for i in range(2)]
    pool_id = cloud.pool("nfs1", cluster_id=cluster_id, capacity_gib=100)
    offering_id = cloud.offering("small", cpu=1, speed=1000, memory=512, root_gib=1)
    data_offering_id = cloud.disk_offering("data", size_gib=1)
    network_id = cloud.network("alice-net", account_id=cloud.accounts["alice"], domain_id=cloud.domain_id)
    with db_engine.begin() as conn:
        conn.execute(update(storage_pool).where(storage_pool.c.id == pool_id).values(url=nfs_server.url("primary")))
        for index, host_id in enumerate(host_ids):
            conn.execute(update(host).where(host.c.id == host_id).values(url=f"http://sim/c1/h{index}"))
        template_id = offering_and_template(conn, cloud, hypervisor="KVM", size=64 * MIB)
        store_id = conn.execute(
            insert(image_store).values(
                name="ss1", url=nfs_server.url("secondary"), protocol="nfs", provider="NFS", zone_id=cloud.zone_id
            )
        ).inserted_primary_key[0]
        params: dict[str, object] = {
            "zoneid": conn.execute(select(zone.c.uuid).where(zone.c.id == cloud.zone_id)).scalar_one(),
            "serviceofferingid": conn.execute(
                select(service_offering.c.uuid).where(service_offering.c.id == offering_id)
            ).scalar_one(),
            "templateid": conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == template_id)).scalar_one(),
            "diskofferingid": conn.execute(
                select(disk_offering.c.uuid).where(disk_offering.c.id == data_offering_id)
            ).scalar_one(),
            "networkids": [
                conn.execute(select(guest_network.c.uuid).where(guest_network.c.id == network_id)).scalar_one()
            ],
        }
    mark_ready(cloud, template_id, store_id, "tiny.qcow2")
    with db_engine.begin() as conn:
        pool_uuid = str(conn.execute(select(storage_pool.c.uuid).where(storage_pool.c.id == pool_id)).scalar_one())
    CLOUD.reset()
    yield NfsZone(
        db_engine,
        caller_for(db_engine, "alice", RoleType.USER),
        caller_for(db_engine, "root", RoleType.ADMIN),
        params,
        nfs_server.exports["primary"],
        nfs_server.url("primary"),
        int(template_id),
        pool_uuid,
    )
    for export in ("primary", "secondary"):
        nfs_server.empty(export)


def volume_uuid(engine: Engine, vm_uuid: str, volume_type: str = "ROOT") -> str:
    with engine.begin() as conn:
        vm_id = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == vm_uuid)).scalar_one()
        query = select(volume.c.uuid).where(volume.c.vm_id == vm_id, volume.c.volume_type == volume_type)
        return str(conn.execute(query).scalar_one())


def users_of_base(engine: Engine, template_id: int) -> int | None:
    with engine.begin() as conn:
        return conn.execute(
            select(template_pool_ref.c.ref_count).where(template_pool_ref.c.template_id == template_id)
        ).scalar()


def deploy_two(zone: NfsZone) -> tuple[str, str]:
    """VM one with a data disk from its deployment, VM two without; their uuids."""
    first = service.create(zone.engine, zone.alice, {**zone.params, "name": "one"})
    service.deploy_vm(zone.engine, zone.alice, first)
    plain = {key: value for key, value in zone.params.items() if key != "diskofferingid"}
    second = service.create(zone.engine, zone.alice, {**plain, "name": "two"})
    service.deploy_vm(zone.engine, zone.alice, second)
    return first, second


def test_root_disks_are_overlays_on_the_export_and_go_with_their_vms(nfs_zone: NfsZone) -> None:
    engine, alice, export, base = nfs_zone.engine, nfs_zone.alice, nfs_zone.export, f"tmpl-{nfs_zone.template_id}.qcow2"
    with hosts(mounted=False) as defined:
        first, second = deploy_two(nfs_zone)  # the first one's data disk is made empty on the export

        roots = [volume_uuid(engine, first), volume_uuid(engine, second)]
        data = volume_uuid(engine, first, "DATADISK")
        assert [spec.disks[0].source for spec in defined] == [f"{nfs_zone.url}/{uuid}" for uuid in roots]
        assert all(spec.disks[0].source_kind is SourceKind.NFS for spec in defined)
        assert [(d.source, d.device_id) for d in defined[0].disks[1:]] == [(f"{nfs_zone.url}/{data}", 1)]
        assert sorted(p.name for p in export.iterdir()) == sorted([base, *roots, data])
        info = json.loads(
            subprocess.run(
                [require_tool("qemu-img"), "info", "--output=json", str(export / roots[0])],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        assert (info["format"], info["virtual-size"]) == ("qcow2", 1 << 30)
        assert info["backing-filename"] == f"{nfs_zone.url}/{base}"
        assert users_of_base(engine, nfs_zone.template_id) == 2

        # A restart finds its root disk by its name on the pool: the same network disk, nothing made again.
        service.stop_vm(engine, alice, second, forced=True)
        assert service.start_vm(engine, alice, second)["state"] == "Running"
        with engine.begin() as conn:
            assert conn.execute(select(volume.c.path).where(volume.c.uuid == roots[1])).scalar_one() == roots[1]

        service.destroy_vm(engine, nfs_zone.admin, first, expunge_now=True)
        assert sorted(p.name for p in export.iterdir()) == sorted([base, roots[1], data])
        operations.delete_volume(engine, alice, data)  # detached by the expunge, deleted on its own
        assert sorted(p.name for p in export.iterdir()) == sorted([base, roots[1]])
        assert users_of_base(engine, nfs_zone.template_id) == 1
        service.destroy_vm(engine, nfs_zone.admin, second, expunge_now=True)
        assert sorted(p.name for p in export.iterdir()) == []
        assert users_of_base(engine, nfs_zone.template_id) is None


def test_a_host_with_the_mount_gets_files_and_makes_the_root_overlays_itself(nfs_zone: NfsZone) -> None:
    engine, export, base = nfs_zone.engine, nfs_zone.export, f"tmpl-{nfs_zone.template_id}.qcow2"
    mount = f"/mnt/{nfs_zone.pool_uuid}"
    with hosts(mounted=True) as defined:
        first, second = deploy_two(nfs_zone)
        roots = [volume_uuid(engine, first), volume_uuid(engine, second)]
        data = volume_uuid(engine, first, "DATADISK")
        assert [(s.disks[0].source, s.disks[0].backing) for s in defined] == [
            (f"{mount}/{uuid}", f"{mount}/{base}") for uuid in roots
        ]
        assert [(d.source, d.backing, d.source_kind) for d in defined[0].disks[1:]] == [
            (f"{mount}/{data}", None, SourceKind.FILE)
        ]
        # The base image and the data disk are on the export; the root overlays are the host's to make.
        assert sorted(p.name for p in export.iterdir()) == sorted([base, data])
        assert users_of_base(engine, nfs_zone.template_id) == 2
        service.destroy_vm(engine, nfs_zone.admin, first, expunge_now=True)
        operations.delete_volume(engine, nfs_zone.alice, data)
        assert sorted(p.name for p in export.iterdir()) == [base]
        service.destroy_vm(engine, nfs_zone.admin, second, expunge_now=True)
        assert sorted(p.name for p in export.iterdir()) == []
        assert users_of_base(engine, nfs_zone.template_id) is None


def test_a_pool_the_server_mounts_cannot_give_a_host_without_the_mount_a_root_disk(nfs_zone: NfsZone) -> None:
    # The server sees the export through a "mount" (here its directory): overlays would name their base relatively.
    with nfs_zone.engine.begin() as conn:
        conn.execute(update(storage_pool).values(details={"mount_point": str(nfs_zone.export)}))
    with hosts(mounted=False), pytest.raises(ApiError, match="would name its base image relatively") as failed:
        deploy_two(nfs_zone)
    assert "drop the pool's mount_point detail" in failed.value.errortext
    # Nothing is left on the export: the base image each try copied went with its last (failed) user.
    assert sorted(p.name for p in nfs_zone.export.iterdir()) == []
    assert users_of_base(nfs_zone.engine, nfs_zone.template_id) is None
