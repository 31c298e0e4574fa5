"""template_for_deploy, acquire_base_image and release_base_image on both databases.

A directory pool (``file://``) and a directory image store (driver ``local``) make the base-image copy
real (``qemu-img convert``); a Simulator cluster's pool copies nothing.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from provisioner.db.schema import (
    account,
    domain,
    image_store,
    storage_pool,
    template_permission,
    template_pool_ref,
    template_store_ref,
    vm_template,
)
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceUnavailableError
from provisioner.services.principal import Caller, RoleType
from provisioner.services.templates.deploy import (
    acquire_base_image,
    base_image_key,
    pool_row_by_id,
    release_base_image,
    template_for_deploy,
)
from provisioner.storage import registry
from provisioner.storage.drivers.local import LocalStorageDriver
from provisioner.storage.drivers.simulator import SimulatorStorageDriver
from provisioner.storage.types import DiskSource, ImageFormat
from tests.support.tools import require_tool
from tests.unit.services.compute.cloud import Cloud


def caller_for(engine: Engine, name: str, role: RoleType = RoleType.USER) -> Caller:
    with engine.begin() as conn:
        row = conn.execute(select(account).where(account.c.name == name)).mappings().one()
        dom = conn.execute(select(domain).where(domain.c.id == row["domain_id"])).mappings().one()
    return Caller("u-" + name, name, row["uuid"], name, dom["uuid"], dom["path"], "r", role)


def add_template(cloud: Cloud, owner: str, *, public: bool = False, fmt: str = "RAW", state: str = "Active") -> int:
    return cloud.run(
        insert(vm_template).values(
            name=f"tmpl-{owner}",
            format=fmt,
            hypervisor_type="KVM",
            url="http://127.0.0.1/x.img",
            is_public=public,
            state=state,
            account_id=cloud.accounts[owner],
            domain_id=cloud.domain_id,
            size=1 << 20,
            details={},
        )
    )


def add_store(cloud: Cloud, root: Path, driver: str = "local") -> int:
    root.mkdir(parents=True, exist_ok=True)
    return cloud.run(
        insert(image_store).values(
            name=f"store-{root.name}",
            url=f"file://{root}",
            protocol="file",
            provider="NFS",
            zone_id=cloud.zone_id,
            details={"driver": driver},
        )
    )


def mark_ready(cloud: Cloud, template_id: int, store_id: int, install_path: str) -> None:
    cloud.run(
        insert(template_store_ref).values(
            template_id=template_id,
            store_id=store_id,
            zone_id=cloud.zone_id,
            state="Ready",
            download_state="DOWNLOADED",
            download_pct=100,
            install_path=install_path,
            size=1 << 20,
        )
    )


def dir_pool(cloud: Cloud, root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    cluster_id = cloud.cluster("kvm")
    pool_id = cloud.run(
        insert(storage_pool).values(
            name="dirpool",
            pool_type="Filesystem",
            scope="CLUSTER",
            url=f"file://{root}",
            zone_id=cloud.zone_id,
            pod_id=cloud.pod_id,
            cluster_id=cluster_id,
            hypervisor_type="KVM",
            details={},
        )
    )
    with cloud.engine.begin() as conn:
        return dict(pool_row_by_id(conn, pool_id))


def test_template_for_deploy_checks_existence_access_and_readiness(db_engine: Engine, tmp_path: Path) -> None:
    cloud = Cloud(db_engine)
    alice, bob = caller_for(db_engine, "alice"), caller_for(db_engine, "bob")
    private = add_template(cloud, "bob")
    store = add_store(cloud, tmp_path / "store")
    with db_engine.begin() as conn:
        uuid = conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == private)).scalar_one()
        with pytest.raises(ParamError, match="Unable to find template"):
            template_for_deploy(conn, alice, "5d0a1bd4-0000-4000-8000-000000000000", cloud.zone_id)
        with pytest.raises(PermissionDeniedError, match="permission to use template"):
            template_for_deploy(conn, alice, uuid, cloud.zone_id)
        with pytest.raises(ParamError, match="is not ready in zone z1") as raised:
            template_for_deploy(conn, bob, uuid, cloud.zone_id)
        assert raised.value.errorcode == 431
    # Shared with alice: usable once Ready.
    cloud.run(insert(template_permission).values(template_id=private, account_id=cloud.accounts["alice"]))
    mark_ready(cloud, private, store, "template-x.img")
    with db_engine.begin() as conn:
        found = template_for_deploy(conn, alice, uuid.upper(), cloud.zone_id)
    assert (found.id, found.uuid, found.format, found.is_iso, found.size) == (private, uuid, "RAW", False, 1 << 20)
    assert found.install_url == f"file://{tmp_path / 'store'}/template-x.img"
    assert found.store_id == store and not found.simulated


def test_inactive_template_is_refused(db_engine: Engine, tmp_path: Path) -> None:
    cloud = Cloud(db_engine)
    tid = add_template(cloud, "alice", state="Inactive")
    alice = caller_for(db_engine, "alice")
    with db_engine.begin() as conn:
        uuid = conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == tid)).scalar_one()
        with pytest.raises(ParamError, match="Inactive"):
            template_for_deploy(conn, alice, uuid, cloud.zone_id)


def test_simulator_pool_counts_without_copying(db_engine: Engine, tmp_path: Path) -> None:
    SimulatorStorageDriver.ex_reset()
    cloud = Cloud(db_engine)
    cluster_id = cloud.cluster("sim", hypervisor="Simulator")
    tid = add_template(cloud, "alice", public=True)
    mark_ready(cloud, tid, add_store(cloud, tmp_path / "s", driver="simulator"), "template-x.img")
    pool_id = cloud.pool("simpool", cluster_id=cluster_id, hypervisor="Simulator")
    with db_engine.begin() as conn:
        pool = dict(pool_row_by_id(conn, pool_id))
    first = acquire_base_image(db_engine, tid, pool)
    assert acquire_base_image(db_engine, tid, pool) == first
    with SimulatorStorageDriver(pool["url"]) as sim:
        sim.create_overlay(base_image_key(tid), "ROOT-1")  # the base is recorded for overlays
        sim.delete_volume("ROOT-1")
    with db_engine.begin() as conn:
        ref = conn.execute(select(template_pool_ref)).mappings().one()
    assert (ref["state"], ref["ref_count"]) == ("Ready", 2)
    assert release_base_image(db_engine, tid, pool) is False
    assert release_base_image(db_engine, tid, pool) is True
    assert release_base_image(db_engine, tid, pool) is False  # nothing left to release
    with db_engine.begin() as conn:
        assert conn.execute(select(template_pool_ref)).first() is None


class CountingLocal(LocalStorageDriver):
    """Counts base-image copies and makes each one slow enough for callers to overlap."""

    copies = 0
    lock = threading.Lock()

    def ensure_base_image(self, template_id: str, source: str | Path, fmt: ImageFormat) -> DiskSource:
        with CountingLocal.lock:
            CountingLocal.copies += 1
        threading.Event().wait(0.3)
        return super().ensure_base_image(template_id, source, fmt)


def test_concurrent_deploys_copy_once_and_last_release_removes(db_engine: Engine, tmp_path: Path) -> None:
    require_tool("qemu-img")
    cloud = Cloud(db_engine)
    tid = add_template(cloud, "alice", public=True)
    store_root = tmp_path / "store"
    store = add_store(cloud, store_root)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(store_root / "template-x.img"), "1M"], check=True)
    mark_ready(cloud, tid, store, "template-x.img")
    pool = dir_pool(cloud, tmp_path / "pool")
    pool["details"] = {"driver": "counting-local"}
    registry.set_driver("counting-local", CountingLocal)
    CountingLocal.copies = 0
    results: list[str] = []
    errors: list[BaseException] = []

    def deploy() -> None:
        try:
            results.append(acquire_base_image(db_engine, tid, pool, wait_seconds=30))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert CountingLocal.copies == 1
    base = tmp_path / "pool" / f"tmpl-{tid}.qcow2"
    assert results == [str(base)] * 3 and base.is_file()
    with db_engine.begin() as conn:
        ref = conn.execute(select(template_pool_ref)).mappings().one()
    assert (ref["state"], ref["ref_count"], ref["install_path"]) == ("Ready", 3, str(base))
    assert [release_base_image(db_engine, tid, pool) for _ in range(3)] == [False, False, True]
    assert not base.exists()


def test_failed_copy_is_recorded_and_retried(db_engine: Engine, tmp_path: Path) -> None:
    require_tool("qemu-img")
    cloud = Cloud(db_engine)
    tid = add_template(cloud, "alice", public=True)
    store = add_store(cloud, tmp_path / "store")
    mark_ready(cloud, tid, store, "template-x.img")  # the file is missing: the copy fails
    pool = dir_pool(cloud, tmp_path / "pool")
    with pytest.raises(ResourceUnavailableError, match="Copying template"):
        acquire_base_image(db_engine, tid, pool)
    with db_engine.begin() as conn:
        ref = conn.execute(select(template_pool_ref)).mappings().one()
    assert ref["state"] == "Failed" and ref["error_str"]
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "raw", str(tmp_path / "store" / "template-x.img"), "1M"], check=True
    )
    assert acquire_base_image(db_engine, tid, pool).endswith(f"tmpl-{tid}.qcow2")


def test_stale_copy_lease_is_taken_over(db_engine: Engine, tmp_path: Path) -> None:
    require_tool("qemu-img")
    cloud = Cloud(db_engine)
    tid = add_template(cloud, "alice", public=True)
    store = add_store(cloud, tmp_path / "store")
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(tmp_path / "store" / "t.img"), "1M"], check=True)
    mark_ready(cloud, tid, store, "t.img")
    pool = dir_pool(cloud, tmp_path / "pool")
    from datetime import datetime

    # A copier that died long ago left its claim behind.
    cloud.run(
        insert(template_pool_ref).values(
            template_id=tid, pool_id=pool["id"], state="Creating", ref_count=0, last_updated=datetime(2000, 1, 1)
        )
    )
    assert acquire_base_image(db_engine, tid, pool, wait_seconds=5).endswith(f"tmpl-{tid}.qcow2")
