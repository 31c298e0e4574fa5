"""Store-to-store template replication between two storage drivers, with the best path each pair allows.

* both stores have a local view (directory, kernel mount, shared mount point): the copy engine,
  sparse, checksummed inline, resumable and atomic (:func:`copy_image`);
* the source is user-space NFS and the destination has a local view: ``nfs-cat`` streams the image
  into the same sink as a download, so it is checksummed inline, zero runs become holes, and the
  publish is atomic; an interrupted stream restarts (``nfs-cat`` cannot seek);
* the destination has no local view: the source is verified against the expected checksum first
  (one read), then the destination driver copies it in (``qemu-img convert -S`` for raw,
  ``nfs-cp`` for qcow2; atomic through ``.part`` + RENAME); a user-space source is staged through a
  local temporary directory first.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import cast

from provisioner.exceptions import ChecksumMismatchError, DriverError, StorageMaintenanceError
from provisioner.storage.base import Progress, StorageDriver
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum, hash_file
from provisioner.storage.replication.copy import CopyResult, copy_image
from provisioner.storage.replication.download import Readable, receive
from provisioner.storage.replication.sink import Sink
from provisioner.storage.types import PoolState


def _stream_in(
    source: StorageDriver,
    name: str,
    dest: Path,
    *,
    algorithm: str,
    expected: Checksum | None,
    progress: Progress | None,
    timeout: float,
) -> CopyResult:
    volume = source.get_volume(name)
    url = volume.source.uri
    sink = Sink(dest, {"url": url, "size": volume.virtual_size}, 0, algorithm)
    with subprocess.Popen(["nfs-cat", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            receive(cast(Readable, process.stdout), sink, 0, 1 << 50, progress)  # a BufferedReader
            process.wait(timeout=timeout)
            if process.returncode != 0:
                error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
                raise DriverError(f"nfs-cat {url} failed: {error or process.returncode}")
            digest = sink.publish(expected)
        except BaseException:
            process.kill()
            sink.discard()  # a stream cannot resume: start over next time
            raise
    return CopyResult(dest, sink.done, algorithm, digest, sink.bytes_written, 0)


def replicate(
    source: StorageDriver,
    name: str,
    dest: StorageDriver,
    dest_name: str | None = None,
    *,
    expected: Checksum | str | None = None,
    algorithm: str = ENGINE_ALGORITHM,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy one image from a store to another store, as it is.

    Args:
        source: the store holding the image.
        name: the image's name there.
        dest: the store to copy to.
        dest_name: its name there (``name`` by default).
        expected: the template's checksum, verified on the way.
        algorithm: the algorithm computed when nothing is expected (the engine's XXH3 by default).
        progress: called with (bytes done, total).

    Returns:
        What was copied and its checksum.

    Raises:
        ChecksumMismatchError: the image does not match ``expected``; nothing is published.
        StorageMaintenanceError: the destination is in maintenance.
        VolumeExistsError: the destination already has the image.
    """
    if dest.state is not PoolState.UP:
        raise StorageMaintenanceError(f"{dest.name} store {dest.url} is in {dest.state.value}; no new images")
    wanted = Checksum.parse(expected) if isinstance(expected, str) else expected
    algorithm = wanted.algorithm if wanted is not None else algorithm
    target_name = dest_name or name
    source_path, dest_path = source.local_path(name), dest.local_path(target_name)
    timeout = float(getattr(source.settings, "command_timeout", 3600.0))
    if source_path is not None and dest_path is not None:
        return copy_image(source_path, dest_path, expected=wanted, algorithm=algorithm, progress=progress)
    if dest_path is not None:
        return _stream_in(
            source, name, dest_path, algorithm=algorithm, expected=wanted, progress=progress, timeout=timeout
        )
    with tempfile.TemporaryDirectory(prefix="provisioner-stage-") as staging:
        if source_path is None:
            staged = Path(staging) / name
            result = _stream_in(
                source, name, staged, algorithm=algorithm, expected=wanted, progress=None, timeout=timeout
            )
            source_path, digest = staged, result.hexdigest
        else:
            (digest,) = hash_file(source_path, algorithm)  # verify before the bytes leave
            if wanted is not None and digest != wanted.hexdigest:
                raise ChecksumMismatchError(f"{name}: {algorithm} is {digest}, expected {wanted.hexdigest}")
        fmt = source.get_volume(name).format
        copied = dest.copy_in(source_path, target_name, fmt=fmt, progress=progress)
        size = source_path.stat().st_size
        return CopyResult(Path(copied.source.uri), size, algorithm, digest, size, 0)
