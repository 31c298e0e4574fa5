"""A libvirtd (with virtlogd) for the test run, started by hand and stopped by the PIDs it recorded.

Project machines have no systemd, so nothing starts libvirtd by itself. The fixture prepares what
libvirtd needs (the ``libvirt-qemu`` user and group, ``user``/``group = "root"`` in qemu.conf, log and
state directories) idempotently, starts both daemons with pid files in the run's own directory, and
kills exactly those PIDs at the end. A libvirtd that is already answering is reused and left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tools import STRICT, missing

URI = "qemu:///system"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
SOCKET = Path("/run/libvirt/libvirt-sock")


def libvirt_python_missing() -> bool:
    """True when libvirt-python cannot be imported outside ``make test`` (callers then skip its tests);
    under ``make test`` the ImportError propagates and fails the run."""
    try:
        import libvirt  # noqa: F401
    except ImportError:
        if STRICT:
            raise
        return True
    return False


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def prepare_host() -> None:
    """Create what libvirtd's QEMU driver needs; safe to run any number of times."""
    if _run("getent", "group", "libvirt-qemu").returncode != 0:
        _run("groupadd", "-r", "libvirt-qemu")
    if _run("getent", "passwd", "libvirt-qemu").returncode != 0:
        _run("useradd", "-r", "-g", "libvirt-qemu", "-d", "/var/lib/libvirt", "-s", "/usr/sbin/nologin", "libvirt-qemu")
    for directory in ("/var/log/libvirt", "/var/lib/libvirt", "/run/libvirt"):
        Path(directory).mkdir(parents=True, exist_ok=True)
    text = QEMU_CONF.read_text() if QEMU_CONF.exists() else ""
    lines = [line.strip() for line in text.splitlines()]
    additions = [setting for setting in ('user = "root"', 'group = "root"') if setting not in lines]
    if additions:
        # QEMU runs as root so it can read test files anywhere.
        QEMU_CONF.parent.mkdir(parents=True, exist_ok=True)
        QEMU_CONF.write_text(text + ("\n" if text and not text.endswith("\n") else "") + "\n".join(additions) + "\n")


def _answers() -> bool:
    return SOCKET.exists() and _run("virsh", "-c", URI, "version").returncode == 0


def _kill(pid_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URI of a running libvirtd with the QEMU driver."""
    for tool in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (apt: libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)")
    if _answers():
        yield URI
        return
    if os.geteuid() != 0:
        missing("starting libvirtd for qemu:///system needs root")
    prepare_host()
    work = tmp_path_factory.mktemp("libvirtd")
    started: list[Path] = []
    try:
        for daemon in ("virtlogd", "libvirtd"):
            pid_file = work / f"{daemon}.pid"
            result = _run(daemon, "-d", "-p", str(pid_file))
            if result.returncode != 0:
                pytest.fail(f"{daemon} did not start: {result.stderr.strip()}", pytrace=False)
            started.append(pid_file)
        for _ in range(100):
            if _answers():
                break
            time.sleep(0.1)
        else:
            pytest.fail("libvirtd did not answer on qemu:///system within 10 s", pytrace=False)
        yield URI
    finally:
        for pid_file in reversed(started):
            _kill(pid_file)
