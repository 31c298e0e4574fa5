"""kill -9 of a server in the middle of a store-to-store replication: the lease expires, another
server claims the row again and the copy completes (and is identical), never Ready in between."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import Engine, insert, update

from provisioner.db.schema import template_store_ref, template_zone_ref, utcnow
from tests.integration.templates.support import MIB, MSID, TemplateCloud, qemu_img
from tests.support.origin import origin

pytestmark = pytest.mark.integration
CHILD_MSID = 7002


def test_kill_9_during_replication_then_resume(db_engine: Engine, db_url: str, tmp_path: Path) -> None:
    cloud = TemplateCloud(db_engine)
    cloud.allow_loopback()
    cloud.setting("template.download.lease", "2")
    raw = tmp_path / "www" / "t.raw"
    raw.parent.mkdir()
    with open(raw, "wb") as handle:
        handle.truncate(32 * MIB)
        handle.write(os.urandom(24 * MIB))
    qemu_img("info", str(raw))
    s1 = cloud.local_store(cloud.zone_id, tmp_path / "s1")
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.raw", [cloud.zone_id], format="RAW")
        cloud.work_until(tid, {"Ready"})
    z2 = cloud.zone("z2")
    with db_engine.begin() as conn:
        conn.execute(insert(template_zone_ref).values(template_id=tid, zone_id=z2))
    s2 = cloud.local_store(z2, tmp_path / "s2")

    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.templates.replication_child", db_url, str(CHILD_MSID), str(marker)],
        cwd=Path(__file__).parents[3],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started copying"
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    ref = cloud.refs(tid)[s2]
    assert (ref["state"], ref["lease_owner"], ref["attempts"]) == ("Creating", CHILD_MSID, 1)
    assert ref["source_store_id"] == s1
    leftovers = sorted(path.name for path in (tmp_path / "s2").iterdir())
    assert leftovers and all(name.endswith((".part", ".journal")) for name in leftovers), leftovers
    # Not ready while the dead server's lease runs, then taken over and finished here.
    cloud.work()
    assert cloud.refs(tid)[s2]["state"] == "Creating"
    time.sleep(2.2)
    refs = cloud.work_until(tid, {"Ready"})
    ref = refs[s2]
    assert (ref["attempts"], ref["lease_owner"]) == (2, None)
    copy = tmp_path / "s2" / ref["install_path"]
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == hashlib.sha256(raw.read_bytes()).hexdigest()
    assert sorted(path.name for path in (tmp_path / "s2").iterdir()) == [ref["install_path"]]
    # No checksum was given: the origin download recorded the engine's XXH3 and the replica was verified against it.
    engine_digest = "{XXH3}" + xxhash.xxh3_128(raw.read_bytes()).hexdigest()
    assert refs[s1]["checksum"] == ref["checksum"] == engine_digest
    assert MSID != CHILD_MSID


def test_copy_interrupted_too_often_fails_cleanly(db_engine: Engine, tmp_path: Path) -> None:
    cloud = TemplateCloud(db_engine)
    cloud.local_store(cloud.zone_id, tmp_path / "s1")
    tid = cloud.register("http://127.0.0.1:9/t.qcow2", [cloud.zone_id])
    # A row whose lease expired after its third attempt (three servers died on it).
    with db_engine.begin() as conn:
        conn.execute(
            update(template_store_ref)
            .where(template_store_ref.c.template_id == tid)
            .values(state="Creating", attempts=3, lease_owner=1, lease_until=utcnow())
        )
    ref = next(iter(cloud.work_until(tid, {"Failed"}).values()))
    assert "interrupted 3 times" in ref["error_str"]
