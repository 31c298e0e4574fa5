"""A real NFS server for tests: rpcbind + nfs-ganesha (VFS FSAL) on 127.0.0.1, see toolchain.md section 5.

The fixture starts each daemon in the foreground, records its PID and stops exactly that PID. A
portmapper that is already running is reused and left alone (port 111 is machine-wide, and
``rpcbind -h 127.0.0.1`` crashes, so it cannot be given an address of its own).

NFS cannot get a port per run: qemu's nfs driver finds the server through the portmapper, where
only one NFS server can be registered. So parallel test runs take turns: each holds a file lock
while its ganesha runs, and the fixture is module-scoped so that a turn lasts seconds.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from provisioner.exceptions import DriverError
from provisioner.storage.drivers.nfs.rpc import NfsClient
from tests.support.tools import exclusive_lock, missing, require_tool

HOST = "127.0.0.1"
LOCK = "/tmp/provisioner-test-nfs.lock"
EXPORTS = ("primary", "secondary", "secondary2")

_CONFIG = """
NFS_CORE_PARAM {{ Protocols = 3, 4; Bind_addr = {host}; NFS_Port = 2049; MNT_Port = 20048;
                 Enable_NLM = false; Enable_RQUOTA = false; }}
NFSV4 {{ Graceless = true; }}
NFS_KRB5 {{ Active_krb5 = false; }}
{exports}
"""
_EXPORT = """EXPORT {{ Export_Id = {id}; Path = {path}; Pseudo = /{name}; Access_Type = RW; Squash = No_Root_Squash;
         SecType = sys; FSAL {{ Name = VFS; }} CLIENT {{ Clients = {host}; }} }}"""


@dataclass
class NfsServer:
    """A running ganesha with one export per name in :data:`EXPORTS`."""

    host: str
    exports: dict[str, Path]
    pids: list[int] = field(default_factory=list)

    def url(self, export: str) -> str:
        """``nfs://127.0.0.1/<absolute export path>``, as CloudStack names an NFS pool."""
        return f"nfs://{self.host}{self.exports[export]}"

    def empty(self, export: str) -> Path:
        """Remove every file of an export through the server (ganesha caches what is removed behind it)."""
        client = NfsClient(self.host, str(self.exports[export]), timeout=5)
        for entry in self.exports[export].iterdir():
            with contextlib.suppress(DriverError):
                client.remove(entry.name)
        return self.exports[export]


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def _turn(timeout: float = 600.0) -> Iterator[None]:
    """Wait (bounded) for this machine's NFS turn: one test ganesha at a time."""
    with exclusive_lock(LOCK, timeout) as held:
        if not held:
            missing(f"another test run held {LOCK} for {timeout:g} s; cannot start ganesha")
        yield


@contextlib.contextmanager
def running_nfs_server(work: Path) -> Iterator[NfsServer]:
    """Start rpcbind (unless one runs) and ganesha in ``work``; stop what was started."""
    rpcbind, ganesha = require_tool("rpcbind"), require_tool("ganesha.nfsd")
    require_tool("nfs-ls")
    with _turn():
        yield from _serve(work, rpcbind, ganesha)


def _serve(work: Path, rpcbind: str, ganesha: str) -> Iterator[NfsServer]:
    if _listening(2049):
        missing("port 2049 on 127.0.0.1 is taken (another NFS server runs); cannot start ganesha")
    exports = {name: work / name for name in EXPORTS}
    for path in exports.values():
        path.mkdir(parents=True, exist_ok=True)
    blocks = "\n".join(
        _EXPORT.format(id=index + 1, path=path, name=name, host=HOST)
        for index, (name, path) in enumerate(exports.items())
    )
    config = work / "ganesha.conf"
    config.write_text(_CONFIG.format(host=HOST, exports=blocks))
    for directory in (Path("/var/lib/nfs/ganesha"), Path("/run/rpcbind")):
        directory.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    try:
        if not _listening(111):
            started.append(
                subprocess.Popen([rpcbind, "-f", "-w"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            _wait(lambda: _listening(111), "rpcbind")
        log = work / "ganesha.log"
        command = [ganesha, "-F", "-f", str(config), "-L", str(log), "-p", str(work / "ganesha.pid"), "-N", "NIV_EVENT"]
        started.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = NfsClient(HOST, str(exports["primary"]), timeout=2)
        _wait(lambda: _mounts(client), "ganesha", log)
        yield NfsServer(HOST, exports, [process.pid for process in started])
    finally:
        for process in reversed(started):
            _stop(process)


def _mounts(client: NfsClient) -> bool:
    try:
        client.mount()
    except DriverError:
        return False
    return True


def _wait(ready: object, what: str, log: Path | None = None, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(ready) and ready():
            return
        time.sleep(0.1)
    tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
    pytest.fail(f"{what} did not become ready within {timeout:g} s\n{tail}", pytrace=False)


@pytest.fixture(scope="module")
def nfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NfsServer]:
    """A ganesha NFS server on 127.0.0.1 for one test module."""
    with running_nfs_server(tmp_path_factory.mktemp("nfs")) as server:
        yield server
