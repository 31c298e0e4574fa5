"""A minimal NFSv3 client over ONC RPC/TCP: the few calls qemu-img and libnfs's tools do not offer.

qemu-img reads and writes ``nfs://`` images in user space, and ``nfs-ls`` lists directories, but
neither can rename, remove or report free space. Those are single RPCs (RFC 1813), so this module
speaks them directly: MOUNT ``MNT`` for the root handle, then ``LOOKUP``, ``REMOVE``, ``RENAME`` and
``FSSTAT``. Authentication is AUTH_SYS as root, which is what an export with ``no_root_squash``
(CloudStack's requirement for primary storage) expects.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
from dataclasses import dataclass

from provisioner.exceptions import DriverError, VolumeNotFoundError

PORTMAP, MOUNT, NFS = 100000, 100005, 100003
NFS3ERR_NOENT = 2
_ERRORS = {1: "permission denied", 2: "no such file", 5: "I/O error", 13: "access denied", 17: "exists",
           20: "not a directory", 21: "is a directory", 28: "no space left", 30: "read-only file system",
           66: "directory not empty", 70: "stale file handle"}  # fmt: skip
_xids = itertools.count(int.from_bytes(os.urandom(3), "big"))


class NfsRpcError(DriverError):
    """An NFS or RPC call failed; ``status`` is the NFS3 status code when there is one."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class _Packer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def uint(self, value: int) -> _Packer:
        self.parts.append(struct.pack(">I", value))
        return self

    def opaque(self, data: bytes) -> _Packer:
        self.parts.append(struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4))
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class _Unpacker:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def hyper(self) -> int:
        (value,) = struct.unpack_from(">Q", self.data, self.pos)
        self.pos += 8
        return int(value)

    def opaque(self) -> bytes:
        size = self.uint()
        value = self.data[self.pos : self.pos + size]
        self.pos += size + (-size % 4)
        return value

    def skip_post_op_attr(self) -> None:
        if self.uint():
            self.pos += 84  # fattr3 is fixed size


def _auth_sys() -> bytes:
    body = _Packer().uint(0).opaque(b"provisioner").uint(0).uint(0).uint(0).bytes()
    return _Packer().uint(1).opaque(body).bytes()


def _call(  # noqa: PLR0917 - mirrors the RPC call header
    host: str, port: int, program: int, version: int, proc: int, args: bytes, timeout: float
) -> _Unpacker:
    xid = next(_xids) & 0xFFFFFFFF
    header = _Packer().uint(xid).uint(0).uint(2).uint(program).uint(version).uint(proc).bytes()
    message = header + _auth_sys() + _Packer().uint(0).opaque(b"").bytes() + args
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">I", 0x80000000 | len(message)) + message)
            reply = _receive_record(sock)
    except OSError as error:
        raise NfsRpcError(f"NFS server {host}:{port} does not answer: {error}") from error
    unpacker = _Unpacker(reply)
    if unpacker.uint() != xid or unpacker.uint() != 1 or unpacker.uint() != 0:
        raise NfsRpcError(f"NFS server {host}:{port} denied the RPC call (program {program}, procedure {proc})")
    unpacker.uint()  # verifier flavour
    unpacker.opaque()
    accept = unpacker.uint()
    if accept != 0:
        raise NfsRpcError(f"NFS server {host}:{port} refused program {program} v{version} procedure {proc} ({accept})")
    return unpacker


def _receive_record(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    last = False
    while not last:
        (marker,) = struct.unpack(">I", _receive_exact(sock, 4))
        last = bool(marker & 0x80000000)
        chunks.append(_receive_exact(sock, marker & 0x7FFFFFFF))
    return b"".join(chunks)


def _receive_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed in the middle of a reply")
        data += chunk
    return bytes(data)


@dataclass(frozen=True, slots=True)
class FsStat:
    """Bytes of the exported file system (FSSTAT)."""

    total_bytes: int
    free_bytes: int


class NfsClient:
    """The NFSv3 calls a store needs, on one export.

    Args:
        host: the NFS server.
        export: the exported path (MOUNT's ``dirpath``).
        timeout: seconds per call.
        nfs_port: the NFS port; asked from the portmapper when None.
    """

    def __init__(self, host: str, export: str, *, timeout: float = 30.0, nfs_port: int | None = None) -> None:
        self.host, self.export, self.timeout = host, export, timeout
        self._nfs_port = nfs_port
        self._root: bytes | None = None

    def _getport(self, program: int, version: int) -> int:
        args = _Packer().uint(program).uint(version).uint(6).uint(0).bytes()
        port = _call(self.host, 111, PORTMAP, 2, 3, args, self.timeout).uint()
        if port == 0:
            raise NfsRpcError(f"NFS server {self.host}: program {program} v{version} is not registered")
        return port

    def mount(self) -> bytes:
        """MNT the export and keep its root file handle."""
        args = _Packer().opaque(self.export.encode()).bytes()
        reply = _call(self.host, self._getport(MOUNT, 3), MOUNT, 3, 1, args, self.timeout)
        status = reply.uint()
        if status != 0:
            why = _ERRORS.get(status, status)
            raise NfsRpcError(f"NFS server {self.host} refused to mount {self.export}: {why}", status)
        self._root = reply.opaque()
        return self._root

    def _nfs(self, proc: int, args: bytes, what: str) -> _Unpacker:
        if self._nfs_port is None:
            self._nfs_port = self._getport(NFS, 3)
        reply = _call(self.host, self._nfs_port, NFS, 3, proc, args, self.timeout)
        status = reply.uint()
        if status == NFS3ERR_NOENT:
            raise VolumeNotFoundError(f"nfs://{self.host}{self.export}: {what}: no such file")
        if status != 0:
            why = _ERRORS.get(status, f"NFS3 error {status}")
            raise NfsRpcError(f"nfs://{self.host}{self.export}: {what}: {why}", status)
        return reply

    @property
    def root(self) -> bytes:
        """The export's root handle (mounting on first use)."""
        return self._root if self._root is not None else self.mount()

    def fsstat(self) -> FsStat:
        """Total and free bytes of the export's file system."""
        reply = self._nfs(18, _Packer().opaque(self.root).bytes(), "fsstat")
        reply.skip_post_op_attr()
        total, free = reply.hyper(), reply.hyper()
        return FsStat(total, free)

    def lookup(self, name: str) -> bytes:
        """The handle of a file in the export's top directory."""
        reply = self._nfs(3, _Packer().opaque(self.root).opaque(name.encode()).bytes(), f"lookup {name}")
        return reply.opaque()

    def remove(self, name: str) -> None:
        """Delete a file in the export's top directory."""
        self._nfs(12, _Packer().opaque(self.root).opaque(name.encode()).bytes(), f"remove {name}")

    def rename(self, old: str, new: str) -> None:
        """Rename a file within the export's top directory (atomic on the server)."""
        args = _Packer().opaque(self.root).opaque(old.encode()).opaque(self.root).opaque(new.encode()).bytes()
        self._nfs(14, args, f"rename {old} to {new}")
