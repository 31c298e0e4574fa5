"""What rules see and yield: the raw document indexed by place, tolerant accessors, and findings.

Rules run over the raw data, not over the validated model, so that they also run when pydantic
rejected part of the document: every accessor returns ``None`` for a value of the wrong form,
and the rules skip it (pydantic already reports it).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provisioner.model.base import IPV4_RE, HypervisorType

#: A place in the document: keys and list indexes from the root.
Loc = tuple[str | int, ...]

_MANY = 2000  # past this many candidate names, did-you-mean narrows its search
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HYPERVISORS = frozenset(h.value for h in HypervisorType)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a rule found, before positions are attached.

    Attributes:
        loc: where the offending value is.
        message: what is wrong, naming the value, the other place involved, and what to do.
        hint: an optional did-you-mean or pointer.
        on_key: point at the mapping key itself (unknown keys, names used as keys).
    """

    loc: Loc
    message: str
    hint: str | None = None
    on_key: bool = False


@dataclass(slots=True)
class Place:
    """A mapping of the document with its location and the mapping that contains it."""

    loc: Loc
    data: dict[str, Any]
    parent: Place | None = None

    def at(self, *keys: str | int) -> Loc:
        """Location of a value below this place."""
        return (*self.loc, *keys)

    def up(self, levels: int) -> Place:
        """The place ``levels`` steps up (1 = parent)."""
        place = self
        for _ in range(levels):
            assert place.parent is not None
            place = place.parent
        return place


Rule = Callable[["Document"], Iterable[Finding]]


def format_loc(loc: Loc) -> str:
    """Render a location as ``zones[1].pods[0].name`` (keys with dots or spaces as ``["a.b"]``)."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f'["{part}"]')
    return "".join(out)


def places(data: Any, key: str, parent: Place) -> list[Place]:
    """The mappings listed under ``key`` of ``data`` (items that are not mappings are skipped)."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    base = parent.loc
    return [Place((*base, key, i), item, parent) for i, item in enumerate(items) if isinstance(item, dict)]


@dataclass
class Document:
    """The raw topology with every object of the hierarchy listed once, in document order."""

    data: dict[str, Any]
    regions: list[Place] = field(default_factory=list)
    zones: list[Place] = field(default_factory=list)
    pods: list[Place] = field(default_factory=list)
    clusters: list[Place] = field(default_factory=list)
    hosts: list[Place] = field(default_factory=list)

    @classmethod
    def of(cls, data: Any) -> Document:
        """Index a raw document (anything: a malformed one just has fewer places)."""
        root = Place((), data if isinstance(data, dict) else {})
        doc = cls(root.data)
        doc.regions = places(root.data, "regions", root)
        doc.zones = places(root.data, "zones", root)
        for zone in doc.zones:
            for pod in places(zone.data, "pods", zone):
                doc.pods.append(pod)
                for cluster in places(pod.data, "clusters", pod):
                    doc.clusters.append(cluster)
                    doc.hosts.extend(places(cluster.data, "hosts", cluster))
        return doc

    @property
    def root(self) -> Place:
        """The document itself as a place."""
        return Place((), self.data)

    def top(self, key: str) -> list[Place]:
        """The mappings of a top-level list (``storage_servers``, ``templates``, ...)."""
        return places(self.data, key, self.root)

    def below(self, owners: Iterable[Place], key: str) -> Iterator[Place]:
        """The mappings listed under ``key`` of every owner."""
        for owner in owners:
            yield from places(owner.data, key, owner)


def text(data: dict[str, Any], key: str) -> str | None:
    """A non-empty string value, stripped, or ``None``."""
    value = data.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def ip_int(value: Any) -> int | None:
    """A dotted-quad IPv4 address as an integer, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not IPV4_RE.fullmatch(value):
        return None
    return int.from_bytes(socket.inet_aton(value), "big")


def ip_str(number: int) -> str:
    """An integer IPv4 address in dotted form."""
    return str(ipaddress.IPv4Address(number))


def network_of(data: dict[str, Any], address_key: str = "gateway") -> ipaddress.IPv4Network | None:
    """The network given by an address and ``netmask`` (``gateway`` + ``netmask`` of a pod or range)."""
    address, netmask = text(data, address_key), text(data, "netmask")
    if ip_int(address) is None or netmask is None:
        return None
    try:
        return ipaddress.IPv4Network(f"{address}/{netmask}", strict=False)
    except ValueError:
        return None


def cidr(value: Any) -> ipaddress.IPv4Network | None:
    """A strict IPv4 CIDR, or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError:
        return None


def hypervisor(value: Any) -> str | None:
    """A hypervisor name in topology spelling (any capitalisation accepted), or ``None``."""
    if isinstance(value, str) and value.strip().lower() in _HYPERVISORS:
        return value.strip().lower()
    return None


def lowered(data: dict[str, Any], key: str) -> str | None:
    """A string value in lower case (enums are case-insensitive in the model), or ``None``."""
    value = text(data, key)
    return value.lower() if value is not None else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` hint for a misspelt name, or the list of names when few exist."""
    known = sorted(set(candidates))
    pool = known
    if len(pool) > _MANY:  # difflib is linear in Python: look only at names of about the same shape
        pool = [name for name in known if name[:1] == word[:1] and abs(len(name) - len(word)) <= 2]
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6) if len(pool) <= _MANY else []
    if close:
        return f"did you mean {close[0]!r}?"
    if not known:
        return None
    if len(known) <= 6:
        return "defined: " + ", ".join(known)
    return None


def names(items: Iterable[Place]) -> dict[str, Place]:
    """The first place carrying each ``name``."""
    found: dict[str, Place] = {}
    for item in items:
        name = text(item.data, "name")
        if name is not None and name not in found:
            found[name] = item
    return found
