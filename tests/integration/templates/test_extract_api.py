"""``extractTemplate`` through a real server and the ``cs`` client: a time-limited HTTP link to the copy.

A template registered from the loopback origin lands on a ganesha NFS image store (user-space access);
the link the job returns is downloaded with ``requests`` (whole, HEAD, byte ranges), refused once
expired, and extraction is refused to another user and for a non-extractable template.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cs import CloudStack, CloudStackApiException
from sqlalchemy import Engine, func, select, update

from provisioner.db.engine import create_engine_for
from provisioner.db.schema import template_extract
from provisioner.services.templates.extract import cleanup, parse_range, read_range, resolve, token_hash
from provisioner.services.templates.manage import extract_image
from tests.integration.templates.support import MIB, TemplateCloud, qemu_img
from tests.integration.volumes.support import _user
from tests.support.nfs import NfsServer
from tests.support.origin import origin
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

READY_TIMEOUT = 120.0


@pytest.fixture
def secondary(nfs_server: NfsServer) -> Iterator[NfsServer]:
    nfs_server.empty("secondary")
    yield nfs_server
    nfs_server.empty("secondary")


def _wait_ready(api: CloudStack, template_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        rows = api.listTemplates(id=template_id, templatefilter="all").get("template", [])
        if rows and rows[0]["isready"]:
            return dict(rows[0])
        assert time.monotonic() < deadline, f"template not ready: {rows}"
        time.sleep(0.3)


def _error(call: Any) -> CloudStackApiException:
    with pytest.raises(CloudStackApiException) as caught:
        call()
    return caught.value


def test_extract_template_http_download(live_server: LiveServer, secondary: NfsServer, tmp_path: Path) -> None:
    api = live_server.api
    api.updateConfiguration(name="secstorage.allow.private.download", value="true")
    zone = api.createZone(name="ez", networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54")["zone"]
    api.addImageStore(provider="NFS", name="sec", url=secondary.url("secondary"), zoneid=zone["id"])
    raw = tmp_path / "www" / "t.raw"
    raw.parent.mkdir(parents=True)
    with open(raw, "wb") as handle:
        handle.truncate(16 * MIB)
        handle.write(os.urandom(2 * MIB))
    image = tmp_path / "www" / "t.qcow2"
    qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(image))
    raw.unlink()
    expected = image.read_bytes()
    root = api.listDomains(name="ROOT")["domain"][0]["id"]
    alice = _user(live_server, api, "alice", 0, root)
    bob = _user(live_server, api, "bob", 0, root)
    ostype = api.listOsTypes()["ostype"][0]["id"]
    with origin(tmp_path / "www") as base:

        def register(name: str, **flags: bool) -> dict[str, Any]:
            return dict(
                alice.registerTemplate(
                    name=name,
                    displaytext=name,
                    url=f"{base}/files/t.qcow2",
                    format="QCOW2",
                    hypervisor="KVM",
                    zoneid=zone["id"],
                    ostypeid=ostype,
                    **flags,
                )["template"][0]
            )

        template = register("extractable", isextractable=True, ispublic=True)
        closed = register("closed")
        _wait_ready(api, template["id"])
        _wait_ready(api, closed["id"])

    result = alice.extractTemplate(id=template["id"], mode="HTTP_DOWNLOAD", zoneid=zone["id"])["template"]
    assert result["state"] == "DOWNLOAD_URL_CREATED"
    assert result["extractMode"] == "HTTP_DOWNLOAD"
    assert result["id"] == template["id"]
    assert result["zoneid"] == zone["id"]
    assert result["zonename"] == "ez"
    assert result["name"] == "extractable"
    assert result["uploadpercentage"] == 100
    url = result["url"]
    assert url.startswith(f"http://127.0.0.1:{live_server.port}/client/extract/"), url
    assert not url.startswith("nfs://")

    whole = requests.get(url, timeout=30)
    assert whole.status_code == 200
    assert int(whole.headers["content-length"]) == len(expected)
    assert hashlib.sha256(whole.content).hexdigest() == hashlib.sha256(expected).hexdigest()

    head = requests.head(url, timeout=30)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(expected))
    assert head.headers["accept-ranges"] == "bytes"
    assert head.content == b""

    part = requests.get(url, headers={"Range": "bytes=1000-199999"}, timeout=30)
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-199999/{len(expected)}"
    assert part.content == expected[1000:200000]
    tail = requests.get(url, headers={"Range": "bytes=-4096"}, timeout=30)
    assert tail.status_code == 206 and tail.content == expected[-4096:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(expected)}-"}, timeout=30)
    assert beyond.status_code == 416

    # An admin may extract it too; each call makes a new, different link.
    again = api.extractTemplate(id=template["id"], mode="HTTP_DOWNLOAD")["template"]["url"]
    assert again != url

    # Unknown token, wrong file name: a bare 404.
    token_path = url.rsplit("/", 2)
    forged = requests.get(f"{token_path[0]}/{'A' * 43}/{token_path[2]}", timeout=10)
    assert forged.status_code == 404 and forged.text == "Not Found"
    renamed = requests.get(f"{token_path[0]}/{token_path[1]}/other.qcow2", timeout=10)
    assert renamed.status_code == 404

    # Another user: CloudStack's permission error (531) on a public template he sees, "not found" on a
    # private one; not extractable: 431 for the owner.
    denied = _error(lambda: bob.extractTemplate(id=template["id"], mode="HTTP_DOWNLOAD"))
    assert "'errorcode': 531" in str(denied) and "does not have permission to extract" in str(denied), denied
    hidden = _error(lambda: bob.extractTemplate(id=closed["id"], mode="HTTP_DOWNLOAD"))
    assert "Unable to find template" in str(hidden), hidden
    closed_error = _error(lambda: alice.extractTemplate(id=closed["id"], mode="HTTP_DOWNLOAD"))
    assert "'errorcode': 431" in str(closed_error), closed_error
    assert f"Unable to extract template id={closed['id']} as it's not extractable" in str(closed_error)
    ftp = _error(lambda: alice.extractTemplate(id=template["id"], mode="FTP_UPLOAD", url="ftp://198.18.0.9/x"))
    assert "FTP_UPLOAD is not supported" in str(ftp), ftp

    # Expired: the link stops working at once; the cleanup task deletes the row.
    engine = create_engine_for(live_server.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(template_extract).values(expires=template_extract.c.created))
        gone = requests.get(url, timeout=10)
        assert gone.status_code == 404 and gone.text == "Not Found"
        assert requests.head(url, timeout=10).status_code == 404
        cleanup(engine, 0)  # the round the background task runs every extract.url.cleanup.interval
        with engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(template_extract)).scalar() == 0
    finally:
        engine.dispose()


def test_extract_link_on_a_directory_store(db_engine: Engine, tmp_path: Path) -> None:
    """A store with a local view is read from the file itself (seek, no stream), with the same checks."""
    cloud = TemplateCloud(db_engine)
    cloud.allow_loopback()
    store = cloud.local_store(cloud.zone_id, tmp_path / "store")
    (tmp_path / "www").mkdir()
    data = os.urandom(3 * MIB + 123)
    (tmp_path / "www" / "t.img").write_bytes(data)
    with origin(tmp_path / "www") as base:
        tid = cloud.register(f"{base}/files/t.img", [cloud.zone_id], format="RAW", isextractable=True)
        ref = cloud.work_until(tid, {"Ready"})[store]
    caller, uuid = cloud.caller(), cloud.uuid_of(tid)
    with db_engine.begin() as conn:
        row = extract_image(conn, caller, uuid, is_iso=False, mode="http_download")
    token, name = row["url"].rsplit("/", 2)[1:]
    assert name == ref["install_path"]
    with db_engine.begin() as conn:
        source = resolve(conn, token, name)
        assert resolve(conn, token, "x.img") is None
        assert resolve(conn, token[:-1], name) is None
        stored = conn.execute(select(template_extract.c.token_hash)).scalars().all()
    assert source is not None and source.path is not None and source.size == len(data)
    assert token not in stored and token_hash(token) in stored  # only the hash is kept
    assert b"".join(read_range(source, 0, source.size)) == data
    assert b"".join(read_range(source, MIB + 7, 5000)) == data[MIB + 7 : MIB + 5007]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=10-", (10, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=1000-", None),
        ("bytes=-0", None),
        ("bytes=5-2", False),
        ("bytes=0-1,5-6", False),
        ("items=0-1", False),
        ("bytes=a-b", False),
    ],
)
def test_parse_range(header: str, expected: object) -> None:
    assert parse_range(header, 1000) == expected
