"""HTTP(S) download into a store: the same inline checksum, journal and atomic publish as a copy.

``http.client`` reads straight into the engine's ring of buffers (no per-chunk allocation), which
is what keeps the download path close to ``curl -o``. All-zero 64 KiB blocks of the stream are not
written, so a raw image with holes arrives sparse. An interrupted download resumes with a ``Range``
request when the server offers ranges and the file (ETag, Last-Modified, length) is unchanged.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import ssl
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import pydantic

from provisioner.exceptions import ChecksumMismatchError, DownloadError, UnsafeUrlError, VolumeExistsError
from provisioner.storage.replication import journal as journal_file
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum
from provisioner.storage.replication.copy import CopyResult, Progress
from provisioner.storage.replication.sink import CHUNK, RING, Sink, journal_path
from provisioner.storage.replication.urls import check_url

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)


class DownloadSettings(pydantic.BaseModel):
    """Limits and safety switches of template downloads."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    allow_private: bool = pydantic.Field(
        False, description="Allow URLs and redirects to loopback, link-local and private addresses."
    )
    allowed_networks: tuple[pydantic.IPvAnyNetwork, ...] = pydantic.Field(
        (), description="Internal networks allowed without allow_private, such as a template mirror's."
    )
    max_bytes: int = pydantic.Field(1 << 40, gt=0, description="Refuse images larger than this many bytes.")
    max_redirects: int = pydantic.Field(5, ge=0, le=20, description="Redirects followed before giving up.")
    timeout: float = pydantic.Field(60.0, gt=0, le=3600, description="Seconds to connect or wait for data.")
    retries: int = pydantic.Field(2, ge=0, le=10, description="Further tries after a connection is lost.")
    retry_delay: float = pydantic.Field(1.0, ge=0, le=60, description="Seconds before the first retry, doubling.")
    checkpoint_bytes: int = pydantic.Field(512 << 20, gt=0, description="Bytes between journal checkpoints.")


class _Transient(DownloadError):
    """A lost connection or a short body: worth another try."""


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    if parts.scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _open(
    url: str, settings: DownloadSettings, headers: dict[str, str]
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    current = url
    for _ in range(settings.max_redirects + 1):
        check_url(current, allow_private=settings.allow_private, allowed_networks=settings.allowed_networks)
        connection = _connect(current, settings.timeout)
        parts = urlsplit(current)
        try:
            connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else "") or "/", headers=headers)
            response = connection.getresponse()
        except OSError as error:
            connection.close()
            raise _Transient(f"cannot fetch {current}: {error}") from error
        if response.status not in REDIRECTS:
            return connection, response
        location = response.getheader("Location")
        connection.close()
        if not location:
            raise DownloadError(f"{current}: HTTP {response.status} redirect without a Location")
        current = urljoin(current, location)
    raise DownloadError(f"{url}: more than {settings.max_redirects} redirects")


def _total_of(response: http.client.HTTPResponse) -> int:
    if response.status == 206:
        content_range = response.getheader("Content-Range", "")
        return int(content_range.rsplit("/", 1)[1]) if "/" in content_range else 0
    return int(response.getheader("Content-Length") or 0)


def _download_once(
    url: str,
    *,
    dest: Path,
    settings: DownloadSettings,
    algorithm: str,
    expected: Checksum | None,
    progress: Progress | None,
) -> CopyResult:
    headers = {"Accept-Encoding": "identity", "User-Agent": "provisioner-template-download"}
    saved = journal_file.load(journal_path(dest))
    if saved is not None and saved.done > 0 and saved.source.get("url") == url:
        headers["Range"] = f"bytes={saved.done}-"
        validator = saved.source.get("etag") or saved.source.get("last_modified")
        if validator:
            headers["If-Range"] = str(validator)
    connection, response = _open(url, settings, headers)
    try:
        if response.status not in (200, 206):
            raise DownloadError(f"HTTP Server returned {response.status} (expected 200 OK)")
        total = _total_of(response)
        if total > settings.max_bytes:
            raise DownloadError(f"{url} is {total} bytes, above the limit of {settings.max_bytes}")
        identity = {
            "url": url,
            "etag": response.getheader("ETag"),
            "last_modified": response.getheader("Last-Modified"),
            "size": total,
        }
        if response.status == 200 and saved is not None:
            journal_file.remove(journal_path(dest))  # the server sends everything again: start over
        also = ENGINE_ALGORITHM if algorithm != ENGINE_ALGORITHM else None  # what replicas are verified with
        sink = Sink(dest, identity, total, algorithm, settings.checkpoint_bytes, also=also)
        try:
            if response.status == 206 and not response.getheader("Content-Range", "").startswith(f"bytes {sink.done}-"):
                sink.discard()
                raise _Transient(f"{url}: the server resumed at another offset; starting over")
            receive(response, sink, total, settings.max_bytes, progress)
            digest = sink.publish(expected)
        except BaseException:
            sink.close()
            raise
        copied, resumed = sink.bytes_written, sink.resumed_from
        return CopyResult(dest, sink.done, algorithm, digest, copied, resumed, engine_hexdigest=sink.also_hexdigest)
    finally:
        connection.close()


class Readable(Protocol):
    """Anything bytes can be read into: an HTTP response, a pipe."""

    def readinto(self, buffer: memoryview, /) -> int | None:
        """Fill ``buffer``; 0 or None at the end."""


def receive(reader: Readable, sink: Sink, total: int, limit: int, progress: Progress | None) -> None:
    """Stream ``reader`` into ``sink`` through a ring of buffers; all-zero blocks become holes.

    Raises:
        DownloadError: more than ``limit`` bytes, or fewer than ``total`` (a transient error).
    """
    ring = [bytearray(CHUNK) for _ in range(RING)]
    turn = 0
    offset = sink.done
    while True:
        view = memoryview(ring[turn % RING])
        turn += 1
        try:
            count = reader.readinto(view)
        except (OSError, http.client.HTTPException) as error:
            raise _Transient(f"connection lost after {offset} of {total or '?'} bytes: {error}") from error
        if not count:
            break
        if offset + count > limit:
            raise DownloadError(f"the image is larger than the limit of {limit} bytes")
        sink.data(offset, view[:count], detect_zeros=True)
        offset += count
        sink.maybe_checkpoint()
        if progress is not None:
            progress(offset, total)
    if total and offset != total:
        raise _Transient(f"connection closed after {offset} of {total} bytes")


def download(
    url: str,
    dest: str | Path,
    *,
    expected: Checksum | str | None = None,
    algorithm: str = "sha256",
    settings: DownloadSettings | None = None,
    progress: Progress | None = None,
) -> CopyResult:
    """Download an image into a store, verifying its checksum in the same pass.

    Args:
        url: the http(s) URL of the image.
        dest: the final path; ``dest.part`` and ``dest.journal`` exist while it downloads.
        expected: the checksum to verify (``{SHA256}…``, ``{MD5}…``, bare hex).
        algorithm: the hashlib algorithm to compute when nothing is expected. The engine's XXH3-128 is
            computed beside it in the same pass (:meth:`CopyResult.engine_checksum`).
        settings: limits and safety switches.
        progress: called with (bytes done, total); total is 0 without a Content-Length.

    Returns:
        What was downloaded, with the digest.

    Raises:
        UnsafeUrlError: the URL or a redirect points at a refused address.
        ChecksumMismatchError: the content does not match; nothing is published.
        DownloadError: a bad status, the size limit, or a lost connection after the retries.
    """
    settings = settings or DownloadSettings()
    wanted = Checksum.parse(expected) if isinstance(expected, str) else expected
    algorithm = wanted.algorithm if wanted is not None else algorithm
    dest = Path(dest)
    if dest.exists():
        raise VolumeExistsError(f"{dest} already exists; delete it first or download under another name")
    for attempt in range(1, settings.retries + 2):
        try:
            result = _download_once(
                url, dest=dest, settings=settings, algorithm=algorithm, expected=wanted, progress=progress
            )
        except (UnsafeUrlError, ChecksumMismatchError):
            raise
        except (_Transient, OSError) as error:
            if attempt > settings.retries:
                raise DownloadError(f"downloading {url} failed after {attempt} tries: {error}") from error
            log.warning("download of %s failed (%s); retry %d of %d", url, error, attempt, settings.retries)
            time.sleep(settings.retry_delay * 2 ** (attempt - 1))
            continue
        return dataclasses.replace(result, attempts=attempt)
    raise AssertionError("unreachable")
