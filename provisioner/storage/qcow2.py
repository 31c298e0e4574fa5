"""Reading a qcow2 header without qemu: virtual size and backing file name, for fast listings."""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"QFI\xfb"
_HEADER = struct.Struct(">4sIQIIQ")  # magic, version, backing offset, backing size, cluster bits, size


@dataclass(frozen=True, slots=True)
class Qcow2Header:
    """The few header fields a listing needs."""

    version: int
    virtual_size: int
    backing_file: str | None


def parse_header(head: bytes) -> Qcow2Header | None:
    """Parse the start of a file (the first 64 KiB are plenty); None when it is not qcow2 (pure)."""
    if len(head) < _HEADER.size or not head.startswith(MAGIC):
        return None
    _, version, backing_offset, backing_size, _, size = _HEADER.unpack_from(head)
    backing = None
    if backing_offset and backing_size and backing_offset + backing_size <= len(head):
        backing = head[backing_offset : backing_offset + backing_size].decode("utf-8", "replace")
    return Qcow2Header(version, size, backing)


def read_header(path: str) -> Qcow2Header | None:
    """Read and parse a file's header; None for anything that is not qcow2."""
    with open(path, "rb") as handle:
        return parse_header(handle.read(65536))
