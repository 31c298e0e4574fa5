"""A libvirtd (with virtlogd) for the test run, started by hand and stopped by the PIDs it recorded.

Project machines have no systemd, so nothing starts libvirtd by itself. The fixture prepares what
libvirtd needs (the ``libvirt-qemu`` user and group, ``user``/``group = "root"`` in qemu.conf, log and
state directories) idempotently, starts both daemons with pid files in a machine-wide state directory
(:data:`STATE`), and kills exactly those PIDs when the last test process using them is done. A libvirtd
that is already answering and was not started here is reused and left alone.

Several test processes share the one ``qemu:///system`` (xdist workers of one run, other engineers' runs):
each registers itself under :data:`STATE` while it holds the daemons, under a file lock, so the first one
starts them and the last one stops them, and none stops them under another.
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

from tests.support.tools import STRICT, exclusive_lock, missing

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
    """SIGTERM (then SIGKILL) the daemon named by ``pid_file``: only when that PID still runs that daemon
    (the file's stem), so a stale file never kills a process that reused the PID."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pid_file.read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() != pid_file.stem:
            return
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


#: Machine-wide: the lock, the PID files of the daemons started by tests, one file per test process using them.
STATE = Path("/run/provisioner-test-libvirtd")
DAEMONS = ("virtlogd", "libvirtd")


@contextlib.contextmanager
def _locked(timeout: float = 120.0) -> Iterator[None]:
    """Hold the machine-wide lock of :data:`STATE` (bounded wait)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(STATE / "lock", timeout) as held:
        if not held:
            pytest.fail(f"{STATE / 'lock'} held for {timeout:g} s", pytrace=False)
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _users() -> list[int]:
    """PIDs of the live test processes registered as users (stale entries are removed)."""
    live = []
    for entry in (STATE / "users").glob("*"):
        if entry.name.isdigit() and _alive(int(entry.name)):
            live.append(int(entry.name))
        else:
            entry.unlink(missing_ok=True)
    return live


def _acquire() -> None:
    """Register this process; start the daemons unless a libvirtd answers already."""
    with _locked():
        (STATE / "users").mkdir(exist_ok=True)
        (STATE / "users" / str(os.getpid())).touch()
        if _answers():
            return
        if os.geteuid() != 0:
            missing("starting libvirtd for qemu:///system needs root")
        prepare_host()
        for daemon in DAEMONS:
            pid_file = STATE / f"{daemon}.pid"
            _kill(pid_file)  # a daemon a crashed run left behind that no longer answers
            result = _run(daemon, "-d", "-p", str(pid_file))
            if result.returncode != 0:
                pytest.fail(f"{daemon} did not start: {result.stderr.strip()}", pytrace=False)
        for _ in range(100):
            if _answers():
                return
            time.sleep(0.1)
        pytest.fail("libvirtd did not answer on qemu:///system within 10 s", pytrace=False)


def _release() -> None:
    """Unregister this process; the last user stops the daemons the tests started (by their PID files)."""
    with _locked():
        (STATE / "users" / str(os.getpid())).unlink(missing_ok=True)
        if _users():
            return
        for daemon in reversed(DAEMONS):
            pid_file = STATE / f"{daemon}.pid"
            _kill(pid_file)
            pid_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[str]:
    """Yield the URI of a running libvirtd with the QEMU driver."""
    for tool in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (apt: libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)")
    try:
        _acquire()
        yield URI
    finally:
        _release()
