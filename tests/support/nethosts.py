"""Fake machines for Ansible: network namespaces running sshd, each in its own Debian root filesystem.

One run gets a bridge ``<prefix>br`` holding ``198.18.<k>.1/24`` (a /24 of 198.18.0.0/15 no interface
uses yet) and N namespaces ``<prefix>h<i>``, each with a veth ``eth0`` at ``198.18.<k>.<10+i>`` and a
default route through the bridge. Each host runs ``sshd -D`` as PID 1 of its own mount, UTS, IPC and
PID namespaces, chrooted into an overlay of the shared debootstrap tree (``scripts/build-rootfs.sh``)
with a private upper directory, so hosts never see each other's changes and the cached tree stays
clean. The overlay is mounted inside the host's mount namespace, so it vanishes with the host. Only
``/srv`` is a plain directory (``<work>/<host>/srv``, bind-mounted): NFS servers export from there.

Root logs in with a per-run ed25519 key. Stopping kills exactly the sshd PIDs started here (which
ends every process of each host's PID namespace), then deletes the veths, namespaces and bridge.

Usage::

    def test_x(net_hosts: NetHostFactory) -> None:
        fleet = net_hosts(2)              # NetHosts, stopped at teardown
        fleet.hosts[0].address            # '198.18.137.10'
        fleet.ssh(fleet.hosts[0], "id")   # run a command over ssh
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.server import REPO_ROOT
from tests.support.tools import missing, require_tool

BUILD_ROOTFS = REPO_ROOT / "scripts" / "build-rootfs.sh"
BUILD_PODMAN_IMAGE = REPO_ROOT / "scripts" / "build-podman-image.sh"
#: Seconds a host gets to answer on port 22, and to stop.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
#: First host octet in the /24 (``.1`` is the bridge, the controller side).
FIRST_OCTET = 10
MAX_HOSTS = 200


def _run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


def role_packages() -> tuple[str, ...]:
    """Every package the roles install (``scripts/build-podman-image.sh --packages``, the molecule image's list)."""
    done = subprocess.run(
        [str(BUILD_PODMAN_IMAGE), "--packages"], capture_output=True, text=True, timeout=30, check=True
    )
    return tuple(done.stdout.strip().split(","))


def build_rootfs(*packages: str) -> Path:
    """The cached Debian 12 tree (built on first use, about a minute), with extra packages baked in.

    Every tree also holds the roles' packages, so hosts with or without extra packages and the molecule image share
    one tree: a fresh machine runs debootstrap once, not once per package list (each build costs minutes of the
    test run's CPU). Extra packages outside that list still get a tree of their own.
    """
    wanted = sorted({*role_packages(), *packages})
    args = [str(BUILD_ROOTFS), "--include", ",".join(wanted)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-rootfs.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def free_subnet() -> int:
    """A third octet k such that no interface of this machine has an address in 198.18.k.0/24."""
    used = _run("ip", "-o", "-4", "addr", "show").stdout
    candidates = list(range(100, 250))
    random.shuffle(candidates)
    for k in candidates:
        if f"198.18.{k}." not in used:
            return k
    raise RuntimeError("no free /24 in 198.18.100.0-198.18.249.0: stale bridges? `ip -4 addr | grep 198.18`")


@dataclass
class NetHost:
    """One fake machine."""

    name: str
    address: str
    netns: str
    veth: str
    root: Path  # its private directory: upper/ holds every file the host changed
    process: subprocess.Popen[bytes] | None = None
    sshd_pid: int | None = None

    @property
    def upper(self) -> Path:
        """The host's changes over the shared tree (what it wrote, at the same paths)."""
        return self.root / "upper"


@dataclass
class NetHosts:
    """A started fleet: its hosts, the bridge, the login key, and how to stop it."""

    prefix: str
    subnet: int
    work: Path
    rootfs: Path
    hosts: list[NetHost] = field(default_factory=list)
    #: Controller directories bind-mounted at the same path in every host (a cluster file system).
    shared: tuple[Path, ...] = ()

    @property
    def bridge(self) -> str:
        """The bridge the veths hang on (the controller's side)."""
        return f"{self.prefix}br"

    @property
    def gateway(self) -> str:
        """The controller's address on the bridge."""
        return f"198.18.{self.subnet}.1"

    @property
    def key(self) -> Path:
        """The private key root logs in with."""
        return self.work / "id_ed25519"

    def ssh_args(self, host: NetHost) -> list[str]:
        """An ssh command line (no host-key checks: every run makes new host keys) up to the destination."""
        return [
            "ssh",
            "-i",
            str(self.key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "BatchMode=yes",
            f"root@{host.address}",
        ]

    def ssh(self, host: NetHost, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a host over ssh (bounded)."""
        return subprocess.run(
            [*self.ssh_args(host), command], capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self, count: int) -> None:
        """Create the bridge and ``count`` hosts, start their sshd, wait until each accepts a login."""
        if not 1 <= count <= MAX_HOSTS:
            raise ValueError(f"count must be 1..{MAX_HOSTS}, not {count}")
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key))
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for index in range(count):
            self.hosts.append(self._make_host(index))
        for host in self.hosts:
            self._wait_ready(host)

    def _make_host(self, index: int) -> NetHost:
        name = f"{self.prefix}h{index}"
        host = NetHost(
            name=name,
            address=f"198.18.{self.subnet}.{FIRST_OCTET + index}",
            netns=name,
            veth=f"{self.prefix}v{index}",
            root=self.work / name,
        )
        _run("ip", "netns", "add", host.netns)
        _run("ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _run("ip", "link", "set", host.veth, "master", self.bridge, "up")
        _run("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _run("ip", "-n", host.netns, "link", "set", "eth0", "up")
        _run("ip", "-n", host.netns, "link", "set", "lo", "up")
        _run("ip", "-n", host.netns, "route", "add", "default", "via", self.gateway)
        self._prepare_root(host)
        self._launch(host)
        return host

    def _prepare_root(self, host: NetHost) -> None:
        # The per-host files go in the upper directory: the overlay shows them over the shared tree.
        upper = host.upper
        for directory in ("root/.ssh", "etc/ssh", "run/sshd", "var/log"):
            (upper / directory).mkdir(parents=True, exist_ok=True)
        (host.root / "work").mkdir(exist_ok=True)
        (host.root / "merged").mkdir(exist_ok=True)
        (host.root / "srv").mkdir(exist_ok=True)
        (upper / "root/.ssh").chmod(0o700)
        public = self.key.with_suffix(".pub").read_text()
        (upper / "root/.ssh/authorized_keys").write_text(public)
        (upper / "root/.ssh/authorized_keys").chmod(0o600)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(upper / "etc/ssh/ssh_host_ed25519_key"))
        # Real Debian machines have it (ganesha's VFS exports resolve their filesystem through it).
        if not (self.rootfs / "etc/mtab").exists():
            (upper / "etc/mtab").symlink_to("../proc/self/mounts")
        (upper / "etc/hostname").write_text(host.name + "\n")
        (upper / "etc/hosts").write_text(f"127.0.0.1 localhost\n{host.address} {host.name}\n")
        (upper / "etc/ssh/provisioner_sshd_config").write_text(
            f"ListenAddress {host.address}\n"
            "HostKey /etc/ssh/ssh_host_ed25519_key\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PidFile /run/sshd.pid\n"
            "Subsystem sftp /usr/lib/openssh/sftp-server\n"
            "MaxStartups 100:30:200\n"
            "MaxSessions 50\n"
        )

    def _launch(self, host: NetHost) -> None:
        merged = host.root / "merged"
        options = f"lowerdir={self.rootfs},upperdir={host.upper},workdir={host.root / 'work'}"
        script = (
            "set -e; mount --make-rprivate /; "
            f"hostname {host.name}; "
            f"mount -t overlay overlay -o {options} {merged}; "
            f"mount -t proc proc {merged}/proc; "
            f"mount -t sysfs sysfs {merged}/sys || true; "
            f"mount --rbind /dev {merged}/dev; "
            # A devpts of its own: QEMU's serial consoles are ptys, and the machine's /dev/ptmx may belong
            # to a devpts instance that is not the one at /dev/pts.
            f"{{ mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts {merged}/dev/pts && "
            f"mount --bind {merged}/dev/pts/ptmx {merged}/dev/ptmx; }} || true; "
            f"mount -t tmpfs -o mode=1777 tmpfs {merged}/tmp; "
            # /srv is a plain directory, not overlay: ganesha's VFS exports need file handles, which
            # overlayfs does not give (a real storage server exports from a real filesystem too).
            f"mkdir -p {merged}/srv; mount --bind {host.root / 'srv'} {merged}/srv; "
            + "".join(f"mkdir -p {merged}{path}; mount --bind {path} {merged}{path}; " for path in self.shared)
            + f"exec chroot {merged} /usr/sbin/sshd -D -e -f /etc/ssh/provisioner_sshd_config"
        )
        log = open(host.root / "sshd.log", "wb")  # noqa: SIM115 - the child keeps it after this returns
        try:
            host.process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    host.netns,
                    "unshare",
                    "--mount",
                    "--uts",
                    "--ipc",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "sh",
                    "-c",
                    script,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def _wait_ready(self, host: NetHost) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert host.process is not None
        while time.monotonic() < deadline:
            if host.process.poll() is not None:
                raise RuntimeError(f"{host.name}: sshd exited: {(host.root / 'sshd.log').read_text()[-2000:]}")
            host.sshd_pid = host.sshd_pid or _child_of(host.process.pid)
            done = _run(*self.ssh_args(host), "true", check=False, timeout=15)
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{host.name} ({host.address}) did not accept ssh within {START_TIMEOUT:g} s")

    def stop(self) -> None:
        """Kill the sshd PIDs started here, then delete the veths, namespaces and the bridge."""
        for host in self.hosts:
            _stop_host(host)
        for host in self.hosts:
            _run("ip", "link", "del", host.veth, check=False)
            _run("ip", "netns", "del", host.netns, check=False)
        _run("ip", "link", "del", self.bridge, check=False)


def _child_of(pid: int) -> int | None:
    """The first child of ``pid`` (unshare's child: the namespace's init, later sshd), or None."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    if not children:
        return None
    # `ip netns exec` execs unshare in place, so the Popen pid is unshare; its child is `sh`, which execs sshd.
    return int(children[0])


def _stop_host(host: NetHost) -> None:
    process = host.process
    if process is None:
        return
    pid = host.sshd_pid or _child_of(process.pid)
    if pid is not None:
        # sshd is PID 1 of the host's PID namespace: when it ends, the kernel kills the rest of the namespace.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


NetHostFactory = Callable[..., NetHosts]


def require_net_hosts() -> None:
    """Skip (or fail under make test) when this machine cannot make namespace hosts."""
    if os.geteuid() != 0:
        missing("namespace hosts need root (network namespaces, unshare, chroot)")
    for tool in ("ip", "unshare", "chroot", "ssh", "ssh-keygen", "debootstrap"):
        require_tool(tool)
    if not Path("/usr/sbin/sshd").exists():
        missing("openssh-server is not installed (apt-get install openssh-server)")


@pytest.fixture
def net_hosts(tmp_path: Path) -> Iterator[NetHostFactory]:
    """Start fleets of namespace hosts on demand; every fleet is stopped at teardown.

    Call it as ``net_hosts(count, packages=(...), shared=(...))``; ``packages`` are baked into the shared
    tree, ``shared`` directories (absolute) appear at the same path in every host.
    """
    require_net_hosts()
    fleets: list[NetHosts] = []

    def start(count: int, packages: tuple[str, ...] = (), shared: tuple[Path, ...] = ()) -> NetHosts:
        prefix = f"pv{os.getpid() % 10000:04d}{len(fleets)}"  # <= 6 chars + "h199"/"br": within 15
        work = tmp_path / f"nethosts-{len(fleets)}"
        work.mkdir()
        fleet = NetHosts(prefix=prefix, subnet=free_subnet(), work=work, rootfs=build_rootfs(*packages), shared=shared)
        fleets.append(fleet)
        fleet.start(count)
        return fleet

    try:
        yield start
    finally:
        for fleet in fleets:
            fleet.stop()
        # The hosts' upper directories hold root-owned files; pytest's tmp cleanup copes, but free space now.
        for fleet in fleets:
            shutil.rmtree(fleet.work, ignore_errors=True)
