"""Commands that read a topology file: validate, inventory, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from provisioner.cli.output import OutputFormat, issues_as_json, out_console, print_issues, print_json
from provisioner.config import load_topology
from provisioner.exceptions import ModelError
from provisioner.model.summary import summarize

TopologyArg = Annotated[
    Path, typer.Argument(help="The topology file (YAML).", exists=False, dir_okay=False, show_default=False)
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", help="Print as text or JSON.")]


def validate(topology: TopologyArg, output: OutputOpt = OutputFormat.TEXT) -> None:
    """Check a topology file and list every problem at once, or summarise what it describes."""
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
