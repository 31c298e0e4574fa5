"""Data and hole extents of a local file, found with ``SEEK_DATA`` / ``SEEK_HOLE``."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Extent:
    """A run of bytes that is either data or a hole (reads as zeros, takes no space)."""

    offset: int
    length: int
    data: bool

    @property
    def end(self) -> int:
        """The first offset after the extent."""
        return self.offset + self.length


def iter_extents(fd: int, start: int, end: int) -> Iterator[Extent]:
    """Yield the extents covering ``[start, end)`` of an open file, in order and without gaps.

    A file system without ``SEEK_DATA`` support is reported as one data extent: nothing is lost,
    the holes are just copied as zeros.
    """
    offset = start
    while offset < end:
        try:
            data_at = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as error:
            if error.errno == errno.ENXIO:  # only a hole until the end of the file
                yield Extent(offset, end - offset, data=False)
                return
            if error.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                yield Extent(offset, end - offset, data=True)
                return
            raise
        data_at = min(data_at, end)
        if data_at > offset:
            yield Extent(offset, data_at - offset, data=False)
        if data_at >= end:
            return
        hole_at = min(os.lseek(fd, data_at, os.SEEK_HOLE), end)
        yield Extent(data_at, hole_at - data_at, data=True)
        offset = hole_at


def allocated_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes a file takes on disk (``st_blocks`` is counted in 512-byte units on Linux)."""
    return os.stat(path).st_blocks * 512
