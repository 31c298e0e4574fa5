"""The same address used twice: hosts, management servers, storage servers, BMCs and pod ranges."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from provisioner.config.rules.addresses import address_range
from provisioner.config.rules.base import Document, Finding, Loc, Place, format_loc, ip_int, ip_str, text


def _addresses(doc: Document) -> Iterator[tuple[str, Loc]]:
    for server in doc.below(doc.regions, "management_servers"):
        if (ip := text(server.data, "ip")) is not None:
            yield ip, server.at("ip")
    for server in doc.top("storage_servers"):
        if (ip := text(server.data, "ip")) is not None:
            yield ip, server.at("ip")
    for host in doc.hosts:
        data = host.data
        if (ip := text(data, "ip")) is not None:
            yield ip, host.at("ip")
        bmc = data.get("bmc")
        if isinstance(bmc, dict) and (address := text(bmc, "address")) is not None:
            yield address, host.at("bmc", "address")


def duplicate_ips(doc: Document) -> Iterator[Finding]:
    """Every machine and BMC needs an address of its own."""
    # Valid IPv4 strings are canonical (the model refuses leading zeros), so equal text is the same address.
    seen: dict[str, Loc] = {}
    for address, loc in _addresses(doc):
        first = seen.setdefault(address, loc)
        if first is not loc:
            yield Finding(
                loc,
                f"IP {address} is already used by {format_loc(first)}: "
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
        number = ip_int(host.data.get("ip"))
        if number is None:
            continue
        index = bisect.bisect_right(starts, number) - 1
        if index >= 0 and number <= spans[index][1]:
            start, end, pod = spans[index]
            yield Finding(
                host.at("ip"),
                f"host IP {ip_str(number)} lies inside the system-VM range {ip_str(start)}-{ip_str(end)} of "
                f"{format_loc(pod.loc)}: CloudStack hands those addresses to system VMs; "
                "move the host or shrink the range",
            )
