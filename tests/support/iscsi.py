"""A real iSCSI target for tests: tgtd on 127.0.0.1 with file-backed LUNs, see toolchain.md section 5.

Two targets: ``primary`` (LUNs 1 and 2, no authentication) and ``chap`` (LUN 1, CHAP). tgtd runs in
the foreground so the fixture holds its PID; it is stopped with ``tgtadm --op delete --mode system``
after its targets are removed (it ignores SIGTERM while it has targets), and killed by that PID only
if it does not exit. The CHAP secret is handed to ``tgtadm`` on its command line: that is the only
way tgtadm takes it, and it is a throw-away test secret on the target side.

Each run gets its own portal port (a free one) and tgtd control channel (derived from it), so
parallel test runs on one machine do not collide.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tools import require_tool

HOST = "127.0.0.1"
MIB = 1 << 20


@dataclass(frozen=True)
class IscsiTarget:
    """A running tgtd: target IQNs, backing files and the CHAP account of the ``chap`` target."""

    host: str
    port: int
    iqns: dict[str, str]
    luns: dict[tuple[str, int], Path]
    chap_user: str
    chap_secret: str
    pid: int

    def url(self, target: str, lun: int | None = None) -> str:
        """``iscsi://127.0.0.1:3260/<iqn>[/<lun>]``."""
        return f"iscsi://{self.host}:{self.port}/{self.iqns[target]}" + (f"/{lun}" if lun is not None else "")


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_iscsi_target(work: Path) -> Iterator[IscsiTarget]:
    """Start tgtd with two targets in ``work``; stop exactly that tgtd afterwards."""
    tgtd, tgtadm = require_tool("tgtd"), require_tool("tgtadm")
    require_tool("iscsi-ls")
    port = _free_port()
    control = str(port % 30000 + 1)  # tgtd's management channel number must stay below 32768
    iqns = {"primary": "iqn.2026-01.test.local:primary1", "chap": "iqn.2026-01.test.local:chap1"}
    luns = {("primary", 1): work / "lun1.img", ("primary", 2): work / "lun2.img", ("chap", 1): work / "chap1.img"}
    for (_, number), path in luns.items():
        with open(path, "wb") as handle:
            handle.truncate((64 if number == 1 else 32) * MIB)
    user, secret = "provisioner", secrets.token_hex(8)
    process = subprocess.Popen(
        [tgtd, "-f", "-C", control, "--iscsi", f"portal={HOST}:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def admin(*args: str) -> None:
        command = [tgtadm, "-C", control, "--lld", "iscsi", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=30)

    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"tgtd did not start listening on {HOST}:{port}", pytrace=False)
            time.sleep(0.05)
        for tid, (name, iqn) in enumerate(iqns.items(), start=1):
            admin("--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn)
            for (target, number), path in luns.items():
                if target == name:
                    admin(
                        "--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(number), "-b", str(path)
                    )
            admin("--op", "bind", "--mode", "target", "--tid", str(tid), "-I", HOST)
        admin("--op", "new", "--mode", "account", "--user", user, "--password", secret)
        admin("--op", "bind", "--mode", "account", "--tid", "2", "--user", user)
        yield IscsiTarget(HOST, port, iqns, luns, user, secret, process.pid)
    finally:
        _stop([tgtadm, "-C", control], process, len(iqns))


def _stop(tgtadm: list[str], process: subprocess.Popen[bytes], targets: int) -> None:
    if process.poll() is None:
        for tid in range(1, targets + 1):
            subprocess.run(
                [*tgtadm, "--lld", "iscsi", "--op", "delete", "--mode", "target", "--force", "--tid", str(tid)],
                capture_output=True,
                timeout=30,
                check=False,
            )
        subprocess.run([*tgtadm, "--op", "delete", "--mode", "system"], capture_output=True, timeout=30, check=False)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def iscsi_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IscsiTarget]:
    """A tgt iSCSI target on 127.0.0.1 for the whole test run."""
    with running_iscsi_target(tmp_path_factory.mktemp("iscsi")) as target:
        yield target
