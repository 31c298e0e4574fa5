"""Downloads from a real loopback HTTP origin into directory image stores, and store-to-store replication.

Each failure mode ends in the documented state: ``Failed`` / ``DOWNLOAD_ERROR`` with the reason as
``status``, never Ready, and nothing left in the store.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import Engine

from provisioner.services.templates.deploy import template_for_deploy
from provisioner.services.templates.listing import list_images
from provisioner.services.templates.manage import delete_image
from tests.integration.templates.support import MIB, TemplateCloud, qemu_img
from tests.support.origin import origin

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(db_engine: Engine) -> TemplateCloud:
    return TemplateCloud(db_engine)


def qcow2(path: Path, data: bytes = b"") -> Path:
    """A 64 MiB qcow2 image holding ``data`` at its start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as handle:
        handle.truncate(64 * MIB)
        handle.write(data)
    qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path))
    raw.unlink()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listed(cloud: TemplateCloud, template_id: int) -> list[dict[str, object]]:
    caller, uuid = cloud.caller(), cloud.uuid_of(template_id)
    with cloud.engine.begin() as conn:
        rows, _ = list_images(conn, caller, is_iso=False, templatefilter="self", id=uuid)
    return rows


def test_download_then_replicate_store_to_store(cloud: TemplateCloud, tmp_path: Path) -> None:
    cloud.allow_loopback()
    image = qcow2(tmp_path / "www" / "t.qcow2", os.urandom(3 * MIB))
    z2 = cloud.zone("z2")
    s1 = cloud.local_store(cloud.zone_id, tmp_path / "s1")
    s2 = cloud.local_store(z2, tmp_path / "s2")
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.qcow2", [cloud.zone_id, z2], checksum="{SHA256}" + sha256(image))
        refs = cloud.refs(tid)
        assert {ref["state"] for ref in refs.values()} == {"Allocated"}
        refs = cloud.work_until(tid, {"Ready"})
    first = min(refs.values(), key=lambda ref: ref["last_updated"])
    second = refs[s2] if first["store_id"] == s1 else refs[s1]
    # One store fetched the origin; the other replicated from it.
    assert first["source_store_id"] is None and second["source_store_id"] == first["store_id"]
    for root, ref in ((tmp_path / "s1", refs[s1]), (tmp_path / "s2", refs[s2])):
        copy = root / ref["install_path"]
        assert sha256(copy) == sha256(image)
        assert ref["checksum"] == "{SHA256}" + sha256(image)
        assert (ref["size"], ref["download_pct"], ref["download_state"]) == (64 * MIB, 100, "DOWNLOADED")
    rows = listed(cloud, tid)
    assert sorted((row["zonename"], row["isready"], row["status"]) for row in rows) == [
        ("z1", True, "Download Complete"),
        ("z2", True, "Download Complete"),
    ]
    # Ready for deploys in both zones, with the store copy's location.
    caller = cloud.caller()
    with cloud.engine.begin() as conn:
        found = template_for_deploy(conn, caller, str(rows[0]["id"]), z2)
    assert found.install_url == f"file://{tmp_path / 's2'}/{refs[s2]['install_path']}"

    # A store added later receives the template by itself, from a Ready store.
    s3 = cloud.local_store(z2, tmp_path / "s3")
    refs = cloud.work_until(tid, {"Ready"})
    assert refs[s3]["source_store_id"] in (s1, s2)
    assert sha256(tmp_path / "s3" / refs[s3]["install_path"]) == sha256(image)


def test_replicas_of_a_sha256_template_are_verified_with_the_engine_checksum(
    cloud: TemplateCloud, tmp_path: Path
) -> None:
    cloud.allow_loopback()
    image = qcow2(tmp_path / "www" / "t.qcow2", os.urandom(3 * MIB))
    s1 = cloud.local_store(cloud.zone_id, tmp_path / "s1")
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.qcow2", [cloud.zone_id], checksum="{SHA256}" + sha256(image))
        downloaded = cloud.work_until(tid, {"Ready"})[s1]
    # The download was verified with the user's SHA-256; the engine's XXH3 of the same bytes is kept beside it.
    engine_checksum = "{XXH3}" + xxhash.xxh3_128(image.read_bytes()).hexdigest()
    assert (downloaded["checksum"], downloaded["engine_checksum"]) == ("{SHA256}" + sha256(image), engine_checksum)

    # A store added later replicates from s1, verified against the XXH3: a corrupted source is caught.
    source = tmp_path / "s1" / downloaded["install_path"]
    original = source.read_bytes()
    corrupted = bytearray(original)
    corrupted[len(corrupted) // 2] ^= 0xFF
    source.write_bytes(corrupted)
    s2 = cloud.local_store(cloud.zone_id, tmp_path / "s2")
    failed = cloud.work_until(tid, {"Ready", "Failed"})[s2]
    assert failed["state"] == "Failed" and failed["source_store_id"] == s1
    assert f"xxh3_128 is {xxhash.xxh3_128(bytes(corrupted)).hexdigest()}" in failed["error_str"], failed["error_str"]
    assert list((tmp_path / "s2").iterdir()) == []

    # With the source intact the replica is Ready, with the same bytes and both checksums.
    source.write_bytes(original)
    s3 = cloud.local_store(cloud.zone_id, tmp_path / "s3")
    replica = cloud.work_until(tid, {"Ready", "Failed"})[s3]
    assert (replica["state"], replica["source_store_id"]) == ("Ready", s1)
    assert (replica["checksum"], replica["engine_checksum"]) == ("{SHA256}" + sha256(image), engine_checksum)
    assert sha256(tmp_path / "s3" / replica["install_path"]) == sha256(image)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("checksum", "expected"),
        ("format", "registered as QCOW2"),
        ("backing", "backing file"),
        ("cut", "connection closed"),
        ("missing", "HTTP Server returned 404"),
    ],
)
def test_failed_downloads_are_never_ready(cloud: TemplateCloud, tmp_path: Path, case: str, expected: str) -> None:
    cloud.allow_loopback()
    www = tmp_path / "www"
    www.mkdir()
    store_root = tmp_path / "s1"
    cloud.local_store(cloud.zone_id, store_root)
    good = qcow2(www / "good.qcow2", os.urandom(2 * MIB))
    options: dict[str, str] = {}
    name, route = "good.qcow2", "files"
    if case == "checksum":
        options["checksum"] = "{SHA256}" + "0" * 64
    elif case == "format":
        (www / "raw.img").write_bytes(os.urandom(MIB))
        name = "raw.img"
    elif case == "backing":
        qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(good), str(www / "child.qcow2"))
        name = "child.qcow2"
    elif case == "cut":
        route = "cut"
    else:
        name = "nothing.qcow2"
    with origin(www) as base:
        tid = cloud.register(f"{base}/{route}/{name}", [cloud.zone_id], **options)
        refs = cloud.work_until(tid, {"Failed"}, timeout=90)
    ref = next(iter(refs.values()))
    assert ref["download_state"] == "DOWNLOAD_ERROR"
    assert expected in ref["error_str"], ref["error_str"]
    assert list(store_root.iterdir()) == []  # no half file, no journal
    row = listed(cloud, tid)[0]
    assert (row["isready"], row["status"]) == (False, ref["error_str"].strip())


def test_private_addresses_and_redirects_are_refused_unless_allowed(cloud: TemplateCloud, tmp_path: Path) -> None:
    store_root = tmp_path / "s1"
    cloud.local_store(cloud.zone_id, store_root)
    qcow2(tmp_path / "www" / "good.qcow2")
    with origin(tmp_path / "www") as base:
        direct = cloud.register(f"{base}/files/good.qcow2", [cloud.zone_id])
        ref = next(iter(cloud.work_until(direct, {"Failed"}).values()))
        assert "loopback address 127.0.0.1, which is refused" in ref["error_str"]
        # 127.0.0.1 is an allowed internal site, but its redirect to 127.0.0.2 is not.
        cloud.setting("secstorage.allowed.internal.download.sites", "127.0.0.1/32")
        port = base.rsplit(":", 1)[1]
        target = f"http:_127.0.0.2:{port}_files_good.qcow2"
        redirected = cloud.register(f"{base}/redirect/{target}", [cloud.zone_id])
        ref = next(iter(cloud.work_until(redirected, {"Failed"}).values()))
        assert "127.0.0.2" in ref["error_str"] and "refused" in ref["error_str"]
        allowed = cloud.register(f"{base}/files/good.qcow2", [cloud.zone_id])
        assert next(iter(cloud.work_until(allowed, {"Ready"}).values()))["state"] == "Ready"
    assert [p.name for p in store_root.iterdir() if p.name.endswith((".part", ".journal"))] == []


def test_size_limit(cloud: TemplateCloud, tmp_path: Path) -> None:
    cloud.allow_loopback()
    cloud.local_store(cloud.zone_id, tmp_path / "s1")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big.qcow2").write_bytes(os.urandom(2 * MIB))
    cloud.setting("max.template.iso.size", str(1 / 1024))  # 1 MiB
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/big.qcow2", [cloud.zone_id])
        ref = next(iter(cloud.work_until(tid, {"Failed"}).values()))
    assert "limit" in ref["error_str"]


def test_simulated_store_completes_after_the_configured_delay(cloud: TemplateCloud, tmp_path: Path) -> None:
    cloud.setting("sim.template.download.delay", "1.5")
    store = cloud.store(cloud.zone_id, "nfs://sim.example/export/secondary", {"driver": "simulator"})
    tid = cloud.register("http://templates.example.invalid/never-fetched.qcow2", [cloud.zone_id])
    cloud.work()
    ref = cloud.refs(tid)[store]
    assert (ref["state"], ref["attempts"]) == ("Allocated", 0)  # not due yet, and never downloaded
    time.sleep(1.6)
    ref = cloud.work_until(tid, {"Ready"})[store]
    assert (ref["download_state"], ref["download_pct"], ref["attempts"]) == ("DOWNLOADED", 100, 0)


def test_deleted_template_leaves_the_stores(cloud: TemplateCloud, tmp_path: Path) -> None:
    cloud.allow_loopback()
    qcow2(tmp_path / "www" / "t.qcow2", os.urandom(MIB))
    cloud.local_store(cloud.zone_id, tmp_path / "s1")
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.qcow2", [cloud.zone_id])
        cloud.work_until(tid, {"Ready"})
    assert len(list((tmp_path / "s1").iterdir())) == 1
    caller, uuid = cloud.caller(), cloud.uuid_of(tid)
    with cloud.engine.begin() as conn:
        delete_image(conn, caller, uuid, is_iso=False)
    assert {ref["state"] for ref in cloud.refs(tid).values()} == {"Destroying"}
    cloud.work()
    assert cloud.refs(tid) == {}
    assert list((tmp_path / "s1").iterdir()) == []
