"""Guest VLAN bridges on a KVM host, made on demand as CloudStack's KVM agent makes them (``modifyvlan.sh``).

A guest NIC on VLAN ``N`` of a physical network whose KVM traffic label is the bridge ``cloudbr0`` goes on
the bridge ``br<pif>-<N>``, whose one uplink is the VLAN interface ``<pif>.<N>``. ``pif`` is the label
bridge's physical port (CloudStack's ``getPif``: the first port that is not a guest tap, the parent of a
VLAN port), the label itself when it names a device that is not a bridge, or the label bridge itself when
it has no such port (the tagged frames then leave through whatever ports it gets later). The names are the
ones the ``kvm_host`` role gives public VLAN bridges (``kvm_host_vlan_bridge_prefix``).

One shell script does it on the host, for every NIC of a VM at once: on this machine for ``qemu:///``
URIs, over the driver's ssh program for ``qemu+ssh://`` URIs. Each step runs only when the link is not as
wanted, under an ``flock`` on the host, so concurrent deployments and several management servers agree.
When a VM stops, is destroyed or migrates away, the same script removes its bridges that no guest is on any
more (CloudStack's ``deleteVnetBr``); a start makes them again, and so does a migration on its target (a
peer-to-peer one over the target URI's shell) before the guest leaves. A NIC plugged later makes its own.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from provisioner.exceptions import DriverError, DriverValueError

log = logging.getLogger(__name__)
#: Linux interface names are at most 15 characters (IFNAMSIZ - 1).
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_TIMEOUT = 60.0

#: Arguments: make|remove, then triples of <label|device> <name> <vlan>. Prints "<name> <vlan> <pif> <bridge>"
#: per bridge made (or found), or removed.
_SCRIPT = r"""
set -eu
mkdir -p /run/lock
exec 9>>/run/lock/provisioner-vlan-bridges.lock
flock -w 50 9 || { echo "timed out waiting for /run/lock/provisioner-vlan-bridges.lock" >&2; exit 1; }
action=$1
shift
while [ $# -ge 3 ]; do
  mode=$1 name=$2 vlan=$3
  shift 3
  pif=$name
  if [ "$mode" = label ] && [ -d "/sys/class/net/$name/bridge" ]; then
    for port in "/sys/class/net/$name/brif/"*; do
      [ -e "$port" ] || continue
      port=${port##*/}
      [ -e "/sys/class/net/$port/tun_flags" ] && continue
      if [ -f "/proc/net/vlan/$port" ]; then
        port=$(sed -n 's/^Device: *//p' "/proc/net/vlan/$port")
      fi
      pif=$port
      break
    done
  fi
  vdev=$pif.$vlan bridge=br$pif-$vlan
  if [ "$action" = remove ]; then
    # Only a bridge no guest is on: its one port, if any, is its VLAN interface.
    ports=$(ls "/sys/class/net/$bridge/brif" 2>/dev/null) || continue
    if [ -z "$ports" ] || [ "$ports" = "$vdev" ]; then
      ip link del "$bridge"
      if [ -e "/sys/class/net/$vdev" ]; then ip link del "$vdev"; fi
      echo "$name $vlan $pif $bridge"
    fi
    continue
  fi
  if [ ! -e "/sys/class/net/$pif" ]; then
    echo "there is no bridge or device $name" >&2
    exit 2
  fi
  if [ ${#bridge} -gt 15 ] || [ ${#vdev} -gt 15 ]; then
    echo "$bridge or $vdev would be longer than the 15 characters Linux allows" >&2
    exit 2
  fi
  uplink=$vdev
  if ! ip link show dev "$vdev" >/dev/null 2>&1 &&
    ! error=$(ip link add link "$pif" name "$vdev" type vlan id "$vlan" 2>&1); then
    # Without 802.1Q in the kernel no VLAN reaches a port: a label bridge without ports loses nothing.
    if [ -d /proc/net/vlan ] || [ ! -d "/sys/class/net/$pif/bridge" ]; then
      echo "cannot make the VLAN interface $vdev on $pif: $error (does the kernel have 802.1Q, module 8021q?)" >&2
      exit 2
    fi
    uplink=
    echo "the kernel has no 802.1Q VLAN support: $bridge gets no uplink (bridge $pif has no port to carry it)" >&2
  fi
  ip link show dev "$bridge" >/dev/null 2>&1 || ip link add name "$bridge" type bridge
  if [ -n "$uplink" ]; then
    ip link set dev "$vdev" master "$bridge"
    ip link set dev "$vdev" up
  fi
  ip link set dev "$bridge" up
  echo "$name $vlan $pif $bridge"
done
"""


@dataclass(frozen=True, slots=True)
class VlanBridge:
    """A guest VLAN bridge on a host.

    Attributes:
        label: the traffic label (or device) the NIC names.
        vlan: the 802.1Q tag.
        device: the interface the VLAN interface ``<device>.<vlan>`` is made on.
        bridge: the bridge the NIC goes on, ``br<device>-<vlan>``.
    """

    label: str
    vlan: int
    device: str
    bridge: str


def default_bridge(label: str, vlan: int) -> str:
    """The bridge name when the host is not asked (test driver, hosts reached without a shell)."""
    return f"br{label}-{vlan}"


def host_shell(uri: str, ssh_command: str | None) -> list[str] | None:
    """How to reach a shell on the host of ``uri``: ``[]`` for this machine, the ssh command, or None for none.

    ``qemu:///`` is this machine; ``qemu+ssh://[user@]host[:port]/`` is reached over the URI's ``command=``
    or ``ssh_command`` (the management server's wrapper), with the URI's ``keyfile=``; ``test:///``,
    ``qemu+tls://`` and ``qemu+tcp://`` give no shell.
    """
    parts = urlsplit(uri)
    if parts.scheme in ("qemu", "qemu+unix") and not parts.hostname:
        return []
    if parts.scheme != "qemu+ssh" or not parts.hostname:
        return None
    query = dict(parse_qsl(parts.query))
    argv = [query.get("command") or ssh_command or "ssh"]
    if parts.port:
        argv += ["-p", str(parts.port)]
    if query.get("keyfile"):
        argv += ["-i", query["keyfile"]]
    if parts.username:
        argv += ["-l", parts.username]
    return [*argv, "--", parts.hostname]


def _run(shell: list[str], host: str, action: str, wanted: Iterable[tuple[str, str, int]]) -> list[VlanBridge]:
    args: list[str] = []
    for mode, name, vlan in wanted:
        if not _IFNAME.match(name) or not 1 <= vlan <= 4094:
            raise DriverValueError(f"host {host}: {name!r} VLAN {vlan} cannot name a Linux VLAN bridge")
        args += [mode, name, str(vlan)]
    if not args:
        return []
    command = ["sh", "-s", "--", action, *args]
    # ssh joins the remote command into one string for the remote shell: quote every argument.
    argv = [*shell, shlex.join(command)] if shell else command
    what = ", ".join(f"VLAN {args[i + 2]} of {args[i + 1]}" for i in range(0, len(args), 3))
    try:
        done = subprocess.run(argv, input=_SCRIPT, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DriverError(f"host {host}: could not run the script for the guest bridges of {what}: {error}") from None
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        if action == "remove":
            raise DriverError(f"host {host}: removing the unused guest bridges of {what} failed: {reason[0]}")
        raise DriverError(
            f"host {host}: making the guest bridges of {what} failed: {reason[0]}; create the traffic label's bridge "
            "there (the kvm_host role's kvm_host_bridges) and let the driver's user (root) change links, or make "
            "br<nic>-<vlan> on <nic>.<vlan> there yourself"
        )
    for notice in done.stderr.strip().splitlines():
        log.warning("host %s: %s", host, notice)
    bridges = []
    for line in done.stdout.splitlines():
        label, tag, device, bridge = line.split()
        bridges.append(VlanBridge(label, int(tag), device, bridge))
    return bridges


def ensure(shell: list[str], host: str, wanted: Iterable[tuple[str, str, int]]) -> list[VlanBridge]:
    """Make the VLAN interfaces and bridges of ``wanted`` on the host (each step only when missing).

    Args:
        shell: :func:`host_shell` of the host (not None).
        host: the host, for errors.
        wanted: ``("label", label, vlan)`` for a NIC's traffic label, ``("device", device, vlan)`` for a
            bridge made before (from the domain's metadata).

    Raises:
        DriverValueError: a label or VLAN that cannot name a Linux interface.
        DriverError: the host refused (no such label bridge, not root, ssh failed).
    """
    return _run(shell, host, "make", wanted)


def remove_unused(shell: list[str], host: str, made: Iterable[tuple[str, int]]) -> list[VlanBridge]:
    """Remove the bridges ``br<device>-<vlan>`` of ``made`` (device, VLAN) that no guest is on any more, with
    their VLAN interfaces, as CloudStack's KVM agent does when a VM stops; returns those removed.

    Raises:
        DriverError: the host refused (not root, ssh failed).
    """
    return _run(shell, host, "remove", [("device", device, vlan) for device, vlan in made])


__all__ = ["VlanBridge", "default_bridge", "ensure", "host_shell", "remove_unused"]
