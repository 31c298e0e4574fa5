"""``--limit``: select hosts with Ansible's host-pattern rules and keep the groups that still have hosts."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import replace

from provisioner.ansible.inventory import Group, Inventory
from provisioner.exceptions import ProvisionerError

# Same grammar as ansible.inventory.manager: "pattern[3]", "pattern[1:4]", "pattern[2:]".
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_SPLIT = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


class HostPatternError(ProvisionerError, ValueError):
    """A host pattern is malformed (a bad regex or subscript)."""


def split_pattern(pattern: str) -> list[str]:
    """Split ``a,b`` or ``a:b`` (Ansible's legacy separator) into single patterns, dropping blanks."""
    parts = pattern.split(",") if "," in pattern else _COLON_SPLIT.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def _order(patterns: list[str]) -> list[str]:
    # Ansible applies unions first, then "&" intersections, then "!" exclusions.
    regular = [p for p in patterns if p[0] not in "&!"] or ["all"]
    return regular + [p for p in patterns if p[0] == "&"] + [p for p in patterns if p[0] == "!"]


def _matcher(expr: str) -> re.Pattern[str]:
    try:
        return re.compile(expr[1:] if expr.startswith("~") else fnmatch.translate(expr))
    except re.error as exc:
        raise HostPatternError(f"invalid host pattern {expr!r}: {exc}") from None


def _one(inventory: Inventory, pattern: str) -> list[str]:
    expr, subscript = pattern, None
    match = None if pattern.startswith("~") else _SUBSCRIPT.match(pattern)
    if match:
        expr, index, start, _sep, end = match.groups()
        subscript = (int(index), None) if index else (int(start), int(end) if end else -1)
    matcher = _matcher(expr)
    found: dict[str, None] = {}
    groups = [name for name in inventory.groups if matcher.match(name)]
    for name in groups:
        found.update(dict.fromkeys(inventory.hosts_of(name)))
    if not groups or expr[0] == "~" or any(c in expr for c in ".?*["):
        found.update(dict.fromkeys(host for host in inventory.hostvars if matcher.match(host)))
    hosts = list(found)
    if subscript is None or not hosts:
        return hosts
    first, last = subscript
    try:
        if last is None:
            return [hosts[first]]
        return hosts[first : (len(hosts) - 1 if last == -1 else last) + 1]
    except IndexError:
        raise HostPatternError(f"no hosts matched the subscripted pattern {pattern!r}") from None


def select_hosts(inventory: Inventory, pattern: str) -> list[str]:
    """The hosts an Ansible host pattern selects, in Ansible's order.

    Supports what ``--limit`` supports: names, globs, group names, ``a:b`` and ``a,b`` unions,
    ``&`` intersections, ``!`` exclusions, ``~regex`` and ``[i]``/``[i:j]`` subscripts.

    Raises:
        HostPatternError: a regex or subscript is malformed.
    """
    hosts: list[str] = []
    for part in _order(split_pattern(pattern)):
        # A plain host name is taken as is (Ansible does not resolve it as a pattern either).
        matched = [part] if part in inventory.hostvars else _one(inventory, part[1:] if part[0] in "&!" else part)
        if part[0] == "!":
            drop = set(matched)
            hosts = [h for h in hosts if h not in drop]
        elif part[0] == "&":
            keep = set(matched)
            hosts = [h for h in hosts if h in keep]
        else:
            present = set(hosts)
            hosts.extend(h for h in matched if h not in present)
    return hosts


def apply_limit(inventory: Inventory, pattern: str) -> Inventory:
    """A copy of the inventory restricted to the hosts a pattern selects.

    Groups left without any host (directly or through their children) are dropped, except ``all``.

    Args:
        inventory: the full inventory.
        pattern: an Ansible host pattern, as given to ``--limit``.

    Returns:
        The restricted inventory (the original is unchanged).

    Raises:
        HostPatternError: the pattern is malformed.
    """
    selected = set(select_hosts(inventory, pattern))
    keep = {name for name in inventory.groups if name == "all" or selected.intersection(inventory.hosts_of(name))}
    groups: dict[str, Group] = {}
    for name, group in inventory.groups.items():
        if name in keep:
            groups[name] = replace(
                group,
                hosts=[h for h in group.hosts if h in selected],
                children=[c for c in group.children if c in keep],
            )
    hostvars = {host: variables for host, variables in inventory.hostvars.items() if host in selected}
    return Inventory(groups, hostvars)
