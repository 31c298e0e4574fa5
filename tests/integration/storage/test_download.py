"""HTTP(S) download into a store against a real ``http.server`` on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.exceptions import ChecksumMismatchError, DownloadError, UnsafeUrlError
from provisioner.storage.replication.copy import percent
from provisioner.storage.replication.download import DownloadSettings, download
from provisioner.storage.replication.sink import journal_path, part_path
from provisioner.storage.replication.urls import check_url
from tests.support.origin import origin
from tests.unit.storage.contract import MIB, make_sparse_raw

pytestmark = pytest.mark.integration

ALLOW = DownloadSettings(allow_private=True, retries=0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    with origin(root, cut_after=4 * MIB) as url:
        yield url, root


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def image(server: tuple[str, Path]) -> Path:
    return make_sparse_raw(server[1] / "t.raw", 24 * MIB, (0, 10 * MIB, 20 * MIB))


def test_download_verifies_inline_reports_progress_and_keeps_holes(
    server: tuple[str, Path], image: Path, store: Path
) -> None:
    base, _ = server
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    seen: list[int] = []
    dest = store / "t.raw"
    result = download(
        f"{base}/files/t.raw",
        dest,
        expected=f"{{SHA256}}{digest}",
        settings=ALLOW,
        progress=lambda d, t: seen.append(percent(d, t)),
    )
    assert (result.hexdigest, result.size) == (digest, 24 * MIB)
    assert dest.read_bytes() == image.read_bytes()
    assert dest.stat().st_blocks * 512 <= 4 * MIB  # the zero runs arrived as holes
    assert seen[-1] == 100 and seen == sorted(seen)


def test_checksum_mismatch_leaves_nothing(server: tuple[str, Path], image: Path, store: Path) -> None:
    with pytest.raises(ChecksumMismatchError):
        download(f"{server[0]}/files/t.raw", store / "t.raw", expected="{MD5}" + "0" * 32, settings=ALLOW)
    assert list(store.iterdir()) == []


def test_loopback_is_refused_by_default_and_redirects_are_checked(server: tuple[str, Path], store: Path) -> None:
    with pytest.raises(UnsafeUrlError, match="loopback"):
        download(f"{server[0]}/files/t.raw", store / "t.raw")
    with pytest.raises(UnsafeUrlError, match="private"):
        check_url("http://10.1.2.3/x", allow_private=False)
    with pytest.raises(UnsafeUrlError, match="link-local"):
        check_url("http://169.254.169.254/latest/meta-data", allow_private=False)
    with pytest.raises(UnsafeUrlError, match="only http"):
        check_url("file:///etc/passwd", allow_private=True)
    # Loopback allowed as an internal mirror network: its redirect to 10.0.0.1 is refused before any connection.
    mirror = DownloadSettings(allowed_networks=("127.0.0.0/8",), retries=0)  # type: ignore[arg-type]
    with pytest.raises(UnsafeUrlError, match=r"10\.0\.0\.1"):
        download(f"{server[0]}/redirect/http:_10.0.0.1_x", store / "r.raw", settings=mirror)
    assert list(store.iterdir()) == []


def test_server_that_stops_mid_download_leaves_no_ready_file(
    server: tuple[str, Path], image: Path, store: Path
) -> None:
    dest = store / "t.raw"
    with pytest.raises(DownloadError, match="after"):
        download(f"{server[0]}/cut/t.raw", dest, settings=ALLOW)
    assert not dest.exists()
    assert part_path(dest).exists()  # kept to resume; never mistaken for a finished image
    # The next try resumes with a Range request and finishes the same bytes.
    result = download(
        f"{server[0]}/files/t.raw", dest, settings=DownloadSettings(allow_private=True, checkpoint_bytes=MIB)
    )
    assert result.hexdigest == hashlib.sha256(image.read_bytes()).hexdigest()
    assert not journal_path(dest).exists()


def test_http_errors_and_size_limit(server: tuple[str, Path], image: Path, store: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP Server returned 404"):
        download(f"{server[0]}/files/missing.raw", store / "m.raw", settings=ALLOW)
    small = DownloadSettings(allow_private=True, retries=0, max_bytes=MIB)
    with pytest.raises(DownloadError, match="limit"):
        download(f"{server[0]}/files/t.raw", store / "big.raw", settings=small)
    assert not (store / "big.raw").exists()
