"""The store-to-store copy engine: sparse-aware, checksummed inline, resumable, published atomically.

Both stores are reached through their local view (a directory, a kernel mount, a shared mount
point). Only data extents are copied (``SEEK_DATA`` / ``SEEK_HOLE``): holes are hashed as zeros and
never written, so they stay holes. The kernel moves the data (``os.copy_file_range``: no copy
through user space, and a server-side copy on NFS 4.2 or a reflink where the file system can) in
chunks of :data:`CFR_CHUNK`, while a worker thread hashes each copied range by mapping it from the
source (:meth:`Sink.copied`; the pages were just read into the page cache, so this is no second
read from the store). Where ``copy_file_range`` is refused (another file system type, an old
kernel), data extents are read once into a ring of buffers, hashed on the worker thread and
written with ``pwrite``. qcow2 images are copied as the files they are: already compact, and their
checksum is the file's. For stores without a local view (user-space NFS), the driver copies with
``qemu-img convert -S`` instead, see :mod:`provisioner.storage.drivers.nfs`.

Without an expected checksum the engine computes its own, XXH3-128 (:data:`ENGINE_ALGORITHM`),
which costs ~0.06 s per GiB; a checksum the user gave (``{SHA256}…``) is computed with its own
algorithm and verified before anything is published.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioner.exceptions import ChecksumMismatchError, DriverError, VolumeExistsError, VolumeNotFoundError
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum
from provisioner.storage.replication.extents import Extent, iter_extents
from provisioner.storage.replication.sink import CHUNK, RING, Sink

log = logging.getLogger(__name__)

#: Called with (bytes done, bytes total).
Progress = Callable[[int, int], None]

#: Bytes per ``copy_file_range`` call (and per hashed mapping): large enough that the per-call cost
#: vanishes, small enough that progress, checkpoints and the hasher keep pace with the copy.
CFR_CHUNK = 32 << 20
#: ``copy_file_range`` errors that mean "not between these two files": fall back to read + write.
_NO_CFR = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ETXTBSY, errno.EBADF}


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a finished copy or download did.

    Attributes:
        path: the published file.
        size: its logical size in bytes.
        algorithm: the hashlib name of the checksum computed inline.
        hexdigest: the checksum of the whole logical content (holes as zeros).
        bytes_copied: data bytes read from the source and written in this run (holes excluded).
        bytes_resumed: logical bytes taken over from an interrupted run instead of copied again.
        attempts: tries it took (1 without retries).
        engine_hexdigest: the engine's XXH3-128 of the same content when ``algorithm`` is another one and it
            was computed beside it (downloads), else None.
    """

    path: Path
    size: int
    algorithm: str
    hexdigest: str
    bytes_copied: int
    bytes_resumed: int
    attempts: int = 1
    engine_hexdigest: str | None = None

    def checksum(self) -> Checksum:
        """The computed digest as a :class:`Checksum` (``str()`` gives CloudStack's ``{SHA256}…``)."""
        return Checksum(self.algorithm, self.hexdigest)

    def engine_checksum(self) -> Checksum | None:
        """The engine's XXH3-128 of the content (``{XXH3}…``), when it was computed."""
        if self.algorithm == ENGINE_ALGORITHM:
            return self.checksum()
        return Checksum(ENGINE_ALGORITHM, self.engine_hexdigest) if self.engine_hexdigest else None


def percent(done: int, total: int) -> int:
    """CloudStack's ``downloadPercent``: whole percent, 100 only when everything is done."""
    if total <= 0:
        return 0
    return 100 if done >= total else min(99, done * 100 // total)


def status_text(done: int, total: int, *, finished: bool = False, iso: bool = False) -> str:
    """CloudStack's ``status`` of a template on a store while it arrives.

    ``<n>% Downloaded`` while bytes arrive, ``Installing Template`` (``Installing ISO``) once all are
    in but the image is not published yet (checks, rename), ``Download Complete`` when ready.
    """
    if finished:
        return "Download Complete"
    pct = percent(done, total)
    if pct >= 100:
        return "Installing ISO" if iso else "Installing Template"
    return f"{pct}% Downloaded"


def _identity(source: Path, stat: os.stat_result) -> dict[str, object]:
    return {"path": str(source), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class _Copier:
    """Moves the data extents of one open source into a :class:`Sink`."""

    def __init__(self, source: Path, fd: int, sink: Sink, size: int, progress: Progress | None) -> None:
        self.source, self.fd, self.sink, self.size, self.progress = source, fd, sink, size, progress
        self.kernel = hasattr(os, "copy_file_range")
        self.ring: list[bytearray] = []
        self.turn = 0

    def extent(self, extent: Extent) -> None:
        offset = extent.offset
        while offset < extent.end:
            count = self._kernel(offset, extent.end) if self.kernel else 0
            if count == 0:
                count = self._buffered(offset, extent.end)
            offset += count
            self.sink.maybe_checkpoint()
            if self.progress is not None:
                self.progress(offset, self.size)

    def _kernel(self, offset: int, end: int) -> int:
        try:
            count = os.copy_file_range(self.fd, self.sink.fd, min(CFR_CHUNK, end - offset), offset, offset)
        except OSError as error:
            if error.errno not in _NO_CFR:
                raise
            log.info("copy_file_range refused for %s (%s); copying through a buffer", self.source, error)
            self.kernel = False
            return 0
        if count <= 0:
            raise DriverError(f"{self.source} shrank while it was being copied (at byte {offset})")
        self.sink.copied(self.fd, offset, count)
        return count

    def _buffered(self, offset: int, end: int) -> int:
        if not self.ring:
            self.ring = [bytearray(CHUNK) for _ in range(RING)]
        view = memoryview(self.ring[self.turn % RING])[: min(CHUNK, end - offset)]
        self.turn += 1
        count = os.preadv(self.fd, [view], offset)
        if count <= 0:
            raise DriverError(f"{self.source} shrank while it was being copied (at byte {offset})")
        self.sink.data(offset, view[:count])
        return count


def _copy_once(
    source: Path, *, dest: Path, algorithm: str, expected: Checksum | None, progress: Progress | None, checkpoint: int
) -> CopyResult:
    with open(source, "rb", buffering=0) as handle:
        fd = handle.fileno()
        stat = os.fstat(fd)
        size = stat.st_size
        sink = Sink(dest, _identity(source, stat), size, algorithm, checkpoint)
        try:
            copier = _Copier(source, fd, sink, size, progress)
            for extent in iter_extents(fd, sink.done, size):
                if extent.data:
                    copier.extent(extent)
                else:
                    sink.hole(extent.offset, extent.length)
                    sink.maybe_checkpoint()
                if progress is not None:
                    progress(extent.end, size)
            after = os.fstat(fd)
            if (after.st_size, after.st_mtime_ns) != (size, stat.st_mtime_ns):
                raise DriverError(f"{source} changed while it was being copied; copy it again")
            digest = sink.publish(expected)  # waits for the hasher, which maps from ``fd``
        except BaseException:
            sink.close()  # keep .part and the journal: the next call resumes
            raise
    return CopyResult(dest, size, algorithm, digest, sink.bytes_written, sink.resumed_from)


def copy_image(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    expected: Checksum | str | None = None,
    algorithm: str = ENGINE_ALGORITHM,
    progress: Progress | None = None,
    retries: int = 2,
    retry_delay: float = 1.0,
    checkpoint_bytes: int = 512 << 20,
) -> CopyResult:
    """Copy an image file into a store: holes stay holes, the checksum is computed in the same pass.

    An interrupted copy (crash, kill -9, I/O error) leaves ``dest.part`` and ``dest.journal``; calling
    again with the same source resumes after the last checkpoint without copying finished extents.
    ``dest`` appears only complete, verified and fsynced.

    Args:
        source: the image file in the source store.
        dest: the final path in the destination store.
        expected: the checksum to verify (``{SHA256}…`` or bare hex); its algorithm wins over ``algorithm``.
        algorithm: the algorithm to compute when nothing is expected (hashlib name or ``xxh3_128``,
            the default: the engine's integrity checksum).
        progress: called with (bytes done, total) as the copy goes.
        retries: further tries after an I/O error, each resuming where the last stopped.
        retry_delay: seconds before the first retry, doubled for each next one.
        checkpoint_bytes: logical bytes between journal checkpoints.

    Returns:
        What was copied, with the digest.

    Raises:
        ChecksumMismatchError: the content does not match ``expected``; nothing is published.
        VolumeExistsError: ``dest`` already exists.
        DriverError: the copy still failed after the retries.
    """
    wanted = Checksum.parse(expected) if isinstance(expected, str) else expected
    algorithm = wanted.algorithm if wanted is not None else algorithm
    source_path, dest_path = Path(source), Path(dest)
    if not source_path.is_file():
        raise VolumeNotFoundError(f"{source_path} does not exist or is not a file")
    for attempt in range(1, retries + 2):
        try:
            result = _copy_once(
                source_path,
                dest=dest_path,
                algorithm=algorithm,
                expected=wanted,
                progress=progress,
                checkpoint=checkpoint_bytes,
            )
        except (ChecksumMismatchError, VolumeExistsError):
            raise
        except OSError as error:
            if attempt > retries:
                raise DriverError(
                    f"copying {source_path} to {dest_path} failed after {attempt} tries: {error}"
                ) from error
            log.warning("copy of %s failed (%s); retry %d of %d", source_path, error, attempt, retries)
            time.sleep(retry_delay * 2 ** (attempt - 1))
            continue
        return dataclasses.replace(result, attempts=attempt)
    raise AssertionError("unreachable")
