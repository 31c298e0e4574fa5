"""The same address used twice: hosts, management servers, storage servers, BMCs and pod ranges."""

from __future__ import annotations

import bisect
import socket
from collections.abc import Iterator

from provisioner.config.rules.addresses import address_range
from provisioner.config.rules.base import Document, Finding, Place, format_loc, ip_int, ip_str

Keys = tuple[str, ...]


_IP: Keys = ("ip",)
_BMC: Keys = ("bmc", "address")


def _addresses(doc: Document) -> Iterator[tuple[object, Place, Keys]]:
    """Every machine and BMC address with its owner (locations are built only for duplicates)."""
    for server in [*doc.below(doc.regions, "management_servers"), *doc.top("storage_servers")]:
        yield server.data.get("ip"), server, _IP
    for host in doc.hosts:
        data = host.data
        yield data.get("ip"), host, _IP
        bmc = data.get("bmc")
        if isinstance(bmc, dict):
            yield bmc.get("address"), host, _BMC


def duplicate_ips(doc: Document) -> Iterator[Finding]:
    """Every machine and BMC needs an address of its own."""
    # Valid IPv4 strings are canonical (the model refuses leading zeros), so equal text is the same address.
    seen: dict[str, tuple[Place, Keys]] = {}
    for value, place, keys in _addresses(doc):
        if not isinstance(value, str):
            continue
        address = value.strip()
        first = seen.setdefault(address, (place, keys))
        if first[0] is not place or first[1] is not keys:
            yield Finding(
                place.at(*keys),
                f"IP {address} is already used by {format_loc(first[0].at(*first[1]))}: "
                "every host, server and BMC needs an address of its own",
            )


def host_in_pod_range(doc: Document) -> Iterator[Finding]:
    """A host address inside a pod's management range would be handed to a system VM too."""
    spans: list[tuple[int, int, Place]] = []
    for pod in doc.pods:
        if (span := address_range(pod)) is not None:
            spans.append((*span, pod))
    if not spans:
        return
    spans.sort(key=lambda span: span[0])
    starts = [span[0] for span in spans]
    for host in doc.hosts:
        address = host.data.get("ip")
        if not isinstance(address, str):
            continue
        try:  # inet_aton is the fast filter; ip_int confirms the rare hit is a real dotted quad
            number = int.from_bytes(socket.inet_aton(address), "big")
        except OSError:
            continue
        index = bisect.bisect_right(starts, number) - 1
        if index >= 0 and number <= spans[index][1] and ip_int(address) == number:
            start, end, pod = spans[index]
            yield Finding(
                host.at("ip"),
                f"host IP {ip_str(number)} lies inside the system-VM range {ip_str(start)}-{ip_str(end)} of "
                f"{format_loc(pod.loc)}: CloudStack hands those addresses to system VMs; "
                "move the host or shrink the range",
            )
