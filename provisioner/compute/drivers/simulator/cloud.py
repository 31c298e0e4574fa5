"""The simulated cloud: hosts keyed by URL, their VMs, and the faults injected into them.

One module-level :data:`CLOUD` holds every simulated host of the process, so the management server
(or a test) can reach any host by its ``http://sim/<cluster>/<host>`` URL, as CloudStack's simulator
does. State is kept in slotted records so 10,000 hosts and 100,000 VMs fit in a few hundred MB.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from provisioner.compute.commands import COMMAND_VERBS
from provisioner.compute.types import NicSpec, SnapshotInfo, VMState, VolumeSpec
from provisioner.exceptions import DriverError, DriverValueError, HostUnreachableError

GIB = 1 << 30

#: CloudStack's MockAgentManager defaults for a simulated host.
DEFAULT_CPU_CORES = 4
DEFAULT_CPU_MHZ = 8000
DEFAULT_MEMORY_BYTES = 8 * GIB


class InjectedFailureError(DriverError):
    """A failure injected into a simulated host on purpose."""


@dataclass(frozen=True, slots=True)
class SimHostConfig:
    """The capacity of one simulated host, parsed from its URL."""

    url: str
    cluster: str
    host: str
    cpu_cores: int = DEFAULT_CPU_CORES
    cpu_mhz: int = DEFAULT_CPU_MHZ
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    local_storage: bool = False


def parse_sim_url(url: str) -> SimHostConfig:
    """Parse ``http://sim/<cluster>/<host>`` with optional ``cpuspeed``, ``cpucore``, ``memory`` (bytes)
    and ``localstorage`` parameters, given as a query or joined to the last segment with ``&``.

    Raises:
        DriverValueError: the URL is not a simulator URL or a parameter is not a positive number.
    """
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if parts.scheme != "http" or not parts.hostname or len(segments) < 2:
        raise DriverValueError(f"simulated host URL {url!r} must look like http://sim/<cluster>/<host>")
    last, _, inline = segments[-1].partition("&")
    params = dict(parse_qsl(parts.query)) | dict(parse_qsl(inline))
    numbers: dict[str, int] = {}
    for key, field_name in (("cpucore", "cpu_cores"), ("cpuspeed", "cpu_mhz"), ("memory", "memory_bytes")):
        if key in params:
            try:
                numbers[field_name] = int(params[key])
            except ValueError:
                numbers[field_name] = 0
            if numbers[field_name] <= 0:
                raise DriverValueError(f"simulated host URL {url!r}: {key}={params[key]!r} is not a positive integer")
    local = params.get("localstorage", "false").lower() in ("1", "true", "yes")
    canonical = f"http://{parts.hostname}/{'/'.join(segments[:-1])}/{last}"
    return SimHostConfig(canonical, segments[-2], last, local_storage=local, **numbers)


class SimVM:
    """One simulated VM (slotted: the simulator holds 100,000 of them)."""

    __slots__ = (
        "disks",
        "iso",
        "max_memory_bytes",
        "max_vcpus",
        "memory_bytes",
        "name",
        "nics",
        "snapshots",
        "state",
        "uuid",
        "vcpus",
    )

    def __init__(self, name: str, uuid: str, vcpus: int, memory_bytes: int, disks: tuple[VolumeSpec, ...]) -> None:
        self.name = name
        self.uuid = uuid
        self.vcpus = vcpus
        self.memory_bytes = memory_bytes
        self.disks = disks
        self.state = VMState.STOPPED
        self.iso: str | None = None
        self.max_vcpus: int | None = None
        self.max_memory_bytes: int | None = None
        self.nics: tuple[NicSpec, ...] = ()
        #: (snapshot, vcpus, memory, state) oldest first; None until the first snapshot, to save memory.
        self.snapshots: list[tuple[SnapshotInfo, int, int, VMState]] | None = None


class SimHost:
    """A simulated hypervisor host: its VMs, and its faults (down, latency, failing verbs)."""

    __slots__ = ("_failing_starts", "_faults", "config", "down", "latency", "lock", "vms")

    def __init__(self, config: SimHostConfig) -> None:
        self.config = config
        self.vms: dict[str, SimVM] = {}
        self.lock = threading.RLock()
        self.down = False
        self.latency = 0.0
        self._faults: dict[str, list[int | str]] | None = None
        self._failing_starts: set[str] | None = None

    @property
    def url(self) -> str:
        """The host's canonical URL."""
        return self.config.url

    def set_down(self, down: bool = True) -> None:
        """Make the host stop (or resume) answering: every verb raises HostUnreachableError."""
        self.down = down

    def set_latency(self, seconds: float) -> None:
        """Delay every verb by ``seconds`` (outside the host lock, so calls still overlap)."""
        self.latency = max(0.0, seconds)

    def fail_next(self, verb: str, count: int = 1, message: str | None = None) -> None:
        """Make the next ``count`` calls of ``verb`` raise InjectedFailureError.

        ``verb`` is a driver verb (``"start_vm"``) or a CloudStack agent command name (``"StartCommand"``).
        """
        verb = COMMAND_VERBS.get(verb, verb)
        with self.lock:
            if self._faults is None:
                self._faults = {}
            text = message or f"injected failure of {verb} on simulated host {self.url}"
            self._faults[verb] = [count, text]

    def fail_start(self, vm_name: str, failing: bool = True) -> None:
        """Make every start of one VM fail (as a guest that cannot boot) until called with False."""
        with self.lock:
            if failing:
                self._failing_starts = (self._failing_starts or set()) | {vm_name}
            elif self._failing_starts:
                self._failing_starts.discard(vm_name)

    def pending_faults(self) -> dict[str, int]:
        """Verb to the number of injected failures still to come (``querySimulatorMock``)."""
        with self.lock:
            return {verb: int(fault[0]) for verb, fault in (self._faults or {}).items()}

    def clear_faults(self) -> None:
        """Remove every injected fault, latency and the down flag."""
        with self.lock:
            self._faults = None
            self._failing_starts = None
            self.down = False
            self.latency = 0.0

    def check(self, verb: str, vm_name: str | None = None) -> None:
        """Apply this host's faults to one call of ``verb``.

        Raises:
            HostUnreachableError: the host is down.
            InjectedFailureError: a failure was injected for this verb or VM.
        """
        if self.latency:
            time.sleep(self.latency)
        if self.down:
            raise HostUnreachableError(
                f"simulated host {self.url} is down; bring it back with set_down(False) or pick another host"
            )
        with self.lock:
            if self._faults and verb in self._faults:
                fault = self._faults[verb]
                remaining = int(fault[0]) - 1
                if remaining <= 0:
                    del self._faults[verb]
                else:
                    fault[0] = remaining
                raise InjectedFailureError(str(fault[1]))
            if verb == "start_vm" and self._failing_starts and vm_name in self._failing_starts:
                raise InjectedFailureError(f"injected start failure of VM {vm_name} on simulated host {self.url}")


class SimulatorCloud:
    """Every simulated host in the process, keyed by canonical URL; thread-safe."""

    def __init__(self) -> None:
        self._hosts: dict[str, SimHost] = {}
        self._lock = threading.Lock()

    def add_host(self, url: str) -> SimHost:
        """Return the host for ``url``, creating it on first use (as CloudStack's ``addHost`` does)."""
        config = parse_sim_url(url)
        with self._lock:
            host = self._hosts.get(config.url)
            if host is None:
                host = self._hosts[config.url] = SimHost(config)
            return host

    def get_host(self, url: str) -> SimHost:
        """Return an existing host.

        Raises:
            HostUnreachableError: no simulated host has that URL.
        """
        config = parse_sim_url(url)
        host = self._hosts.get(config.url)
        if host is None:
            raise HostUnreachableError(f"no simulated host at {config.url}; add it first (addHost)")
        return host

    def remove_host(self, url: str) -> None:
        """Forget a host and its VMs."""
        with self._lock:
            self._hosts.pop(parse_sim_url(url).url, None)

    def hosts(self) -> list[SimHost]:
        """Every host, in the order they were added."""
        with self._lock:
            return list(self._hosts.values())

    def select(self, *, cluster: str | None = None, host: str | None = None) -> list[SimHost]:
        """Hosts matching a cluster and/or host name (all hosts when both are None)."""
        return [
            candidate
            for candidate in self.hosts()
            if (cluster is None or candidate.config.cluster == cluster)
            and (host is None or candidate.config.host == host)
        ]

    def configure(
        self,
        verb: str,
        count: int = 1,
        *,
        cluster: str | None = None,
        host: str | None = None,
        message: str | None = None,
    ) -> int:
        """Make the next ``count`` calls of ``verb`` fail on every matching host, as CloudStack's
        ``configureSimulator`` scopes a mock to a cluster or host; returns how many hosts it touched."""
        targets = self.select(cluster=cluster, host=host)
        for target in targets:
            target.fail_next(verb, count, message)
        return len(targets)

    def cleanup(self, *, cluster: str | None = None, host: str | None = None) -> int:
        """Clear every fault on the matching hosts (``cleanupSimulatorMock``); returns how many hosts."""
        targets = self.select(cluster=cluster, host=host)
        for target in targets:
            target.clear_faults()
        return len(targets)

    def find_vm(self, name: str) -> SimHost | None:
        """Return the host a VM is defined on, or None (a linear scan: for tests and tools)."""
        for host in self.hosts():
            if name in host.vms:
                return host
        return None

    def vm_count(self) -> int:
        """The number of VMs on every host together."""
        return sum(len(host.vms) for host in self.hosts())

    def reset(self) -> None:
        """Forget every host (tests call this between cases)."""
        with self._lock:
            self._hosts.clear()


#: The process-wide simulated cloud the management server and the drivers share.
CLOUD = SimulatorCloud()
