"""Deterministic Ansible names for topology objects: group names and inventory host names."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence

# The rule (documented in ``inventory/README.md``):
#
# 1. A group name is ``<kind>_<name>`` with every character outside ``[A-Za-z0-9_]`` replaced by
#    ``_`` (``zone_eu-west-1`` → ``zone_eu_west_1``). The kind prefix makes it start with a letter.
# 2. When several objects of the topology map to the same name (pods ``p1`` in two zones, or
#    ``a-b`` next to ``a_b``), each of them is qualified with its parent (``pod_<zone>_<pod>``),
#    then its grandparent, and so on, until the name is unique. Objects whose name was already
#    unique keep the short form.
# 3. If the whole ancestry does not separate them (``a-b`` and ``a_b`` in the same parent), the
#    short name gets ``_`` plus the first 8 hex digits of the SHA-1 of the object's path
#    (original names joined by ``/``): ``cluster_a_b_067caeee``.
#
# Inventory host names follow the same rule with the machine's own name and ``.<parent>``
# qualifiers (``kvm1.cluster-a.pod1.zone1``; storage servers ``<name>.storage``, management
# servers ``<name>.<region>``), and ``-<sha1>`` as the last resort.
#
# The result depends only on the topology, so the same file always gives the same names.

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str) -> str:
    """Replace every character Ansible does not allow in a group name by ``_``."""
    return _INVALID.sub("_", name)


#: Builds a candidate name from an object's own name and the ancestors to qualify it with.
Maker = Callable[[str, tuple[str, ...]], str]


def unique_names(paths: Sequence[tuple[str, ...]], make: Maker, separator: str = "_") -> list[str]:
    """Give each object a unique name, qualifying colliding ones with ever more ancestors.

    Args:
        paths: each object's original names, outermost ancestor first and its own name last, in
            document order; equal paths denote the same object and get the same name.
        make: builds a candidate from the object's own name and the ancestors to qualify it with.
        separator: joins the SHA-1 suffix when no ancestry separates two objects.

    Returns:
        One name per path, in the order given.
    """
    resolved: dict[tuple[str, ...], str] = {}
    pending = list(dict.fromkeys(paths))
    max_depth = max((len(path) - 1 for path in pending), default=0)
    for depth in range(max_depth + 1):
        candidates = {path: make(path[-1], path[max(0, len(path) - 1 - depth) : -1]) for path in pending}
        counts = Counter(candidates.values())
        taken = set(resolved.values())
        for path in pending:
            if counts[candidates[path]] == 1 and candidates[path] not in taken:
                resolved[path] = candidates[path]
        pending = [path for path in pending if path not in resolved]
        if not pending:
            break
    for path in pending:
        digest = hashlib.sha1("/".join(path).encode(), usedforsecurity=False).hexdigest()[:8]
        resolved[path] = f"{make(path[-1], ())}{separator}{digest}"
    return [resolved[path] for path in paths]


def group_maker(kind: str) -> Maker:
    """Candidate builder for groups: ``<kind>_<ancestor>_..._<name>``, sanitised."""

    def make(name: str, ancestors: tuple[str, ...]) -> str:
        return "_".join([kind, *(sanitize(part) for part in ancestors), sanitize(name)])

    return make


def host_name(name: str, ancestors: tuple[str, ...]) -> str:
    """Candidate builder for inventory host names: the name, then ``.<parent>`` qualifiers, innermost first."""
    return ".".join([name, *reversed(ancestors)])
