"""Commands that read a topology file: validate, inventory, render.

Libraries are imported inside each command so that ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from provisioner.cli.output import OutputFormat, issues_as_json, out_console, print_issues, print_json
from provisioner.exceptions import ModelError

TopologyArg = Annotated[
    Path, typer.Argument(help="The topology file (YAML).", exists=False, dir_okay=False, show_default=False)
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", help="Print as text or JSON.")]


def validate(topology: TopologyArg, output: OutputOpt = OutputFormat.TEXT) -> None:
    """Check a topology file and list every problem at once, or summarise what it describes."""
    from provisioner.config import load_topology
    from provisioner.model.summary import summarize

    try:
        cloud = load_topology(topology)
    except ModelError as exc:
        if output is OutputFormat.JSON:
            print_json({"valid": False, "problems": issues_as_json(exc.issues)})
        else:
            print_issues(exc.issues)
        raise typer.Exit(1) from None
    summary = summarize(cloud)
    if output is OutputFormat.JSON:
        print_json({"valid": True, "summary": summary})
        return
    out_console.print(f"[green]✓[/] {topology} is valid: cloud [bold]{summary['name']}[/]")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    breakdown = {
        "hosts": summary["hosts_by_hypervisor"],
        "storage_pools": summary["storage_pools_by_protocol"],
    }
    for key, value in summary.items():
        if key == "name" or isinstance(value, dict):
            continue
        detail = ", ".join(f"{name} {count}" for name, count in breakdown.get(key, {}).items())
        table.add_row(key.replace("_", " "), str(value), detail)
    out_console.print(table)


class InventoryFormat(StrEnum):
    """``--format`` choices of ``provisioner inventory``."""

    YAML = "yaml"
    JSON = "json"
    INI = "ini"


LimitOpt = Annotated[
    str | None,
    typer.Option("--limit", "-l", help="Only hosts matching this Ansible host pattern (e.g. 'kvm_hosts:!pod_p2')."),
]


def inventory(
    topology: TopologyArg,
    fmt: Annotated[InventoryFormat, typer.Option("--format", "-f", help="Inventory format.")] = InventoryFormat.YAML,
    limit: LimitOpt = None,
) -> None:
    """Print the Ansible inventory of a cloud (groups follow regions > zones > pods > clusters)."""
    from provisioner.ansible import apply_limit, build_inventory, serialize
    from provisioner.config import load_topology

    built = build_inventory(load_topology(topology))
    if limit:
        built = apply_limit(built, limit)
    sys.stdout.write(serialize(built, fmt.value))


def render(
    topology: TopologyArg,
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Directory of the Ansible project.")],
    limit: LimitOpt = None,
    plugin: Annotated[
        bool, typer.Option("--plugin", help="Read the topology at run time through the inventory plugin.")
    ] = False,
    output: OutputOpt = OutputFormat.TEXT,
) -> None:
    """Write a complete Ansible project (inventory, vars, ansible.cfg, playbooks) for a cloud."""
    from provisioner.ansible import apply_limit, build_inventory, render_project
    from provisioner.config import load_topology

    cloud = load_topology(topology)
    built = apply_limit(build_inventory(cloud), limit) if limit else None
    if built is not None and plugin:
        raise typer.BadParameter("--limit renders a static inventory; drop --plugin or pass --limit to ansible")
    changed = render_project(cloud, out_dir, topology, plugin=plugin, inventory=built)
    if output is OutputFormat.JSON:
        print_json({"out_dir": str(out_dir), "changed": changed})
        return
    if changed:
        out_console.print(f"rendered {out_dir}: {len(changed)} file{'s' if len(changed) != 1 else ''} changed")
        for relative in changed:
            out_console.print(f"  {relative}", markup=False)
    else:
        out_console.print(f"{out_dir} is up to date")
    out_console.print(f"run it with: ansible-playbook -i {out_dir}/inventory {out_dir}/site.yml", markup=False)
