"""``provisioner sync``: show what the server lacks compared with a topology file, and optionally apply it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from provisioner.cli.output import OutputFormat, err_console, out_console, print_json

if TYPE_CHECKING:
    from provisioner.model import Cloud

#: ``--detailed-exitcode``: the plan has changes (terraform's convention).
EXIT_CHANGES = 2


def _default_regions(cloud: Cloud, url: str) -> list[str] | None:
    """Without --region: the regions the API URL serves, when the file has several and some match."""
    if len(cloud.regions) < 2:
        return None
    from provisioner.services.sync.desired import regions_served_by

    served = regions_served_by(cloud, url)
    if served:
        err_console.print(f"managing the zones of region {', '.join(served)} (served at {url}); --region to choose")
        return served
    err_console.print("the API URL matches no region's endpoint or management server: managing every zone")
    return None


def sync(
    topology: Annotated[Path, typer.Argument(help="The topology file (YAML).", dir_okay=False, show_default=False)],
    *,
    api: Annotated[
        str | None,
        typer.Option("--api", help="API endpoint, e.g. http://127.0.0.1:8080/client/api (else PROVISIONER_API_URL)."),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            help="File with apikey=/secretkey= lines (or `admin keys --json` output); else PROVISIONER_API_KEY and "
            "PROVISIONER_SECRET_KEY (or CLOUDSTACK_KEY/CLOUDSTACK_SECRET).",
            dir_okay=False,
        ),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Make the server match the plan.")] = False,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Only the zones of this region (repeatable).")
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when the plan has changes and --apply is not given.")
    ] = False,
    output: Annotated[OutputFormat, typer.Option("--output", help="Print as text or JSON.")] = OutputFormat.TEXT,
) -> None:
    """Compare a topology file with the management server and print a plan; --apply carries it out.

    Only zones the file names are read and changed (zones and offerings are never deleted); with several
    regions, those the API URL serves (or --region). Exit codes:
    0 nothing to do or applied, 2 changes pending (with --detailed-exitcode), 3 a call failed.
    """
    # Imported here: the client and the sync engine are only needed when the command runs.
    from provisioner.client import CloudStackClient, Credentials
    from provisioner.config import load_topology
    from provisioner.services.sync import apply_plan, plan_for
    from provisioner.services.sync.render import render_plan

    cloud = load_topology(topology)
    credentials = Credentials.resolve(api, key_file=api_key_file)
    with CloudStackClient(credentials) as client:
        plan = plan_for(client, cloud, region or _default_regions(cloud, credentials.url))
        if output is OutputFormat.JSON and not apply:
            print_json(plan.as_json())
        elif output is OutputFormat.TEXT:
            out_console.print(render_plan(plan))
        if apply and plan.has_changes:
            steps = apply_plan(client, plan, progress=lambda line: err_console.print(f"  {line}", markup=False))
            if output is OutputFormat.JSON:
                print_json({**plan.as_json(), "applied": True, "steps": steps})
            else:
                out_console.print(f"[green]Apply complete:[/] {steps} step{'s' if steps != 1 else ''} run.")
        elif apply and output is OutputFormat.JSON:
            print_json({**plan.as_json(), "applied": True, "steps": 0})
    if detailed_exitcode and not apply and plan.has_changes:
        raise typer.Exit(EXIT_CHANGES)
