"""Write an :class:`~provisioner.ansible.inventory.Inventory` as Ansible reads it: JSON, YAML or INI."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Literal

import yaml

from provisioner.ansible.inventory import Inventory
from provisioner.ansible.perf import collector_paused

# All three keep the inventory's order and never sort or iterate a set, so equal inventories give
# equal bytes.

Format = Literal["yaml", "json", "ini"]
FORMATS: tuple[Format, ...] = ("yaml", "json", "ini")


def to_list_dict(inventory: Inventory) -> dict[str, Any]:
    """The ``ansible-inventory --list`` shape: ``_meta.hostvars`` plus one entry per group.

    Empty ``hosts``, ``children`` and ``vars`` are left out, and so is a group with none of them
    (it is still listed among its parent's children), as ``ansible-inventory --list`` does.
    """
    out: dict[str, Any] = {"_meta": {"hostvars": inventory.hostvars}}
    for name, group in inventory.groups.items():
        entry: dict[str, Any] = {}
        if group.hosts:
            entry["hosts"] = group.hosts
        if group.children:
            entry["children"] = group.children
        if group.vars:
            entry["vars"] = group.vars
        if entry or name == "all":
            out[name] = entry
    return out


def to_json(inventory: Inventory, *, indent: int | None = 2) -> str:
    """The inventory as JSON in the ``ansible-inventory --list`` shape.

    Args:
        inventory: the inventory.
        indent: indentation for people; ``None`` gives compact output, several times faster on
            big fleets (Python's C encoder only runs without indentation).

    Returns:
        The JSON text, without a final newline (adding one copies the whole text, which matters
        for memory at 100,000 hosts; :func:`serialize` adds it).
    """
    with collector_paused():
        # Built data is acyclic (shared lists are fine): skipping the cycle check saves ~15 %.
        return json.dumps(to_list_dict(inventory), indent=indent, ensure_ascii=False, check_circular=False)


def to_yaml_dict(inventory: Inventory, *, with_vars: bool = True) -> dict[str, Any]:
    """The nested YAML inventory structure: ``all.children.<group>.children...``.

    Each group is written in full where it first appears (depth first from ``all``) and as an empty
    entry elsewhere; each host carries its vars where it first appears and ``null`` elsewhere.

    Args:
        inventory: the inventory.
        with_vars: include group and host vars; ``False`` gives the bare structure (the rendered
            project keeps vars in ``group_vars/`` and ``host_vars/``).
    """
    seen_groups: set[str] = set()
    seen_hosts: set[str] = set()

    def node(name: str) -> dict[str, Any] | None:
        if name in seen_groups:
            return None
        seen_groups.add(name)
        group = inventory.groups[name]
        entry: dict[str, Any] = {}
        if group.hosts:
            hosts: dict[str, Any] = {}
            for host in group.hosts:
                variables = inventory.hostvars.get(host) if with_vars and host not in seen_hosts else None
                seen_hosts.add(host)
                hosts[host] = variables or None
            entry["hosts"] = hosts
        if group.vars and with_vars:
            entry["vars"] = group.vars
        if group.children:
            entry["children"] = {child: node(child) for child in group.children}
        return entry or None

    return {"all": node("all") or {}}


class _Dumper(yaml.CSafeDumper):
    """Writes shared objects (hosts of one cluster share their bridge list) in full, without anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """YAML text in the given key order, without anchors or line wrapping."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )


def to_yaml(inventory: Inventory, *, with_vars: bool = True) -> str:
    """The inventory as a YAML inventory file (see :func:`to_yaml_dict`)."""
    return dump_yaml(to_yaml_dict(inventory, with_vars=with_vars))


_BARE = re.compile(r"[A-Za-z0-9_./:+-]+")


def _reads_back_as_itself(text: str) -> bool:
    """True when Ansible's INI parser would keep ``text`` as this very string (literal_eval fails on it)."""
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return True
    return False


def _literal(value: Any) -> str:
    # ansible-core's INI parser reads values with ast.literal_eval, inline and in [group:vars]:
    # a plain word that does not evaluate (198.18.0.2, kvm1, /srv) stays bare, anything else is a
    # Python literal that evaluates back to the value.
    if isinstance(value, str) and _BARE.fullmatch(value) and _reads_back_as_itself(value):
        return value
    return repr(value)


def _inline(value: Any) -> str:
    # Host lines are split with shlex first: quote the literal unless it is a bare word.
    text = _literal(value)
    if _BARE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_ini(inventory: Inventory) -> str:
    """The inventory as an INI file: host vars inline, group vars in ``[group:vars]``.

    Values are Python literals, which ansible-core 2.19 reads back with ``ast.literal_eval``, so
    lists and dicts survive. Groups are written in the inventory's order.
    """
    lines = ["# Generated by provisioner from the topology; edit the topology, not this file."]
    written: set[str] = set()
    for name, group in inventory.groups.items():
        if group.vars:
            lines += ["", f"[{name}:vars]"]
            lines += [f"{key}={_literal(value)}" for key, value in group.vars.items()]
        if name == "all":
            continue
        if group.hosts:
            lines += ["", f"[{name}]"]
            for host in group.hosts:
                variables = inventory.hostvars.get(host, {}) if host not in written else {}
                written.add(host)
                parts = [host, *(f"{key}={_inline(value)}" for key, value in variables.items())]
                lines.append(" ".join(parts))
        if group.children:
            lines += ["", f"[{name}:children]", *group.children]
        if not group.hosts and not group.children:
            lines += ["", f"[{name}]"]
    return "\n".join(lines) + "\n"


def serialize(inventory: Inventory, fmt: Format) -> str:
    """The inventory as text in one of :data:`FORMATS`.

    Args:
        inventory: the inventory.
        fmt: ``yaml``, ``json`` (the ``ansible-inventory --list`` shape) or ``ini``.

    Returns:
        The text, ending with a newline.

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return to_json(inventory) + "\n"
    if fmt == "yaml":
        return to_yaml(inventory)
    if fmt == "ini":
        return to_ini(inventory)
    raise ValueError(f"unknown inventory format {fmt!r}: use one of {', '.join(FORMATS)}")
