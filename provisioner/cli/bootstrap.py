"""``provisioner bootstrap``: render the Ansible project, run it with live progress, then sync the server.

Libraries are imported inside the command so that ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from provisioner.cli.output import OutputFormat, err_console, out_console, print_json

if TYPE_CHECKING:
    from provisioner.ansible.runner import RunResult
    from provisioner.client import CloudStackClient
    from provisioner.model import Cloud

#: Exit code when a host failed or the server did not take the result (main's "an operation failed").
EXIT_FAILED = 3
#: How often hosts are polled while waiting for them to come Up.
_POLL_SECONDS = 1.0


def _default_project_dir(topology: Path, cloud: Cloud) -> Path:
    return topology.resolve().parent / ".provisioner" / cloud.name


def _summary(result: RunResult) -> None:
    from rich.table import Table

    table = Table(title="Bootstrap summary", title_justify="left", header_style="bold")
    table.add_column("host")
    table.add_column("outcome")
    for name in ("ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(name, justify="right")
    styles = {"ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red"}
    for host, counts in sorted(result.hosts.items(), key=lambda item: (item[1].healthy, item[0])):
        outcome = result.host_outcome(host)
        table.add_row(
            host,
            f"[{styles[outcome]}]{outcome}[/]",
            *(str(getattr(counts, name)) for name in ("ok", "changed", "failed", "unreachable", "skipped")),
        )
    err_console.print(table)
    err_console.print(f"full log:  {result.stdout_path}", markup=False)
    err_console.print(f"artifacts: {result.artifact_dir}", markup=False)
    err_console.print(f"same run with ansible-playbook:\n  {result.command}", markup=False)


def explain_failure(result: RunResult) -> str:
    """A paragraph naming each failed host and the task (and play) that failed there, with Ansible's message."""
    hosts = result.failed_hosts
    lines = [f"bootstrap failed on {len(hosts)} host{'s' if len(hosts) != 1 else ''}: {', '.join(hosts)}"]
    for failure in result.failures:
        kind = "unreachable" if failure.unreachable else "failed"
        lines.append(
            f"  {failure.host}: task '{failure.task}' ({failure.action}) in play '{failure.play}' {kind}: "
            f"{failure.message}"
        )
    if not hosts:
        lines = [f"ansible-playbook ended with status {result.status} (rc={result.rc}) without a failed host"]
    lines.append(f"see {result.stdout_path}; fix the cause and run the same command again (it is safe to re-run)")
    return "\n".join(lines)


def _hosts_up(client: CloudStackClient, names: list[str], wait: float) -> dict[str, str]:
    """Poll listHosts (bounded by ``wait`` seconds) until every named host is Up; returns each one's state."""
    deadline = time.monotonic() + wait
    while True:
        listed = client.list_all("listHosts", type="Routing")
        states = dict.fromkeys(names, "Missing")
        states.update({str(h["name"]): str(h.get("state", "")) for h in listed if h.get("name") in states})
        if all(state == "Up" for state in states.values()) or time.monotonic() >= deadline:
            return states
        time.sleep(_POLL_SECONDS)


def _sync(cloud: Cloud, api: str | None, api_key_file: Path | None, hosts: list[str], wait: float) -> dict[str, Any]:
    """Register the bootstrapped cloud with the management server, then wait for its hosts to be Up."""
    from provisioner.cli.sync import _default_regions
    from provisioner.client import CloudStackClient, Credentials
    from provisioner.services.sync import apply_plan, plan_for

    credentials = Credentials.resolve(api, key_file=api_key_file)
    with CloudStackClient(credentials) as client:
        plan = plan_for(client, cloud, _default_regions(cloud, credentials.url))
        steps = 0
        if plan.has_changes:
            err_console.print(f"registering the cloud with {credentials.url}")
            steps = apply_plan(client, plan, progress=lambda line: err_console.print(f"  {line}", markup=False))
        states = _hosts_up(client, hosts, wait) if hosts else {}
    return {"api": credentials.url, "applied": True, "steps": steps, "hosts": states}


def kvm_hosts_without_server_key(cloud: Cloud, selected: set[str]) -> list[str]:
    """KVM hosts of the run whose region's management servers give no ``ssh_public_key``.

    The server reaches their libvirt over ``qemu+ssh`` with its own key (``provisioner admin ssh-key``);
    unless the topology names it, the kvm_host role cannot authorize it and the hosts never come Up.
    """
    keyed = {region.name for region in cloud.regions if any(m.ssh_public_key for m in region.management_servers)}
    return sorted(
        host.name
        for zone, _pod, cluster in cloud.iter_clusters()
        if zone.region not in keyed
        for host in cluster.hosts
        if host.name in selected and (host.hypervisor or cluster.hypervisor).value == "kvm"
    )


def _registered_hosts(cloud: Cloud, selected: set[str]) -> list[str]:
    """Hypervisor hosts of the run that the management server lists (vCenter-managed ones are its own)."""
    return sorted(
        host.name
        for zone in cloud.zones
        for pod in zone.pods
        for cluster in pod.clusters
        for host in cluster.hosts
        if host.name in selected
    )


def bootstrap(
    topology: Annotated[Path, typer.Argument(help="The topology file (YAML).", dir_okay=False, show_default=False)],
    *,
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Only hosts matching this Ansible host pattern.")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Dry run: report what would change (no sync).")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show the changes made to files and templates.")] = False,
    forks: Annotated[int | None, typer.Option("--forks", "-f", min=1, help="Hosts worked on in parallel.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tags", "-t", help="Only tasks with these tags.")] = None,
    skip_tags: Annotated[list[str] | None, typer.Option("--skip-tags", help="Skip tasks with these tags.")] = None,
    api: Annotated[
        str | None,
        typer.Option("--api", help="API endpoint to register the result with (else PROVISIONER_API_URL; none: skip)."),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file", help="File with apikey=/secretkey= lines (else the environment).", dir_okay=False
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", help="Print as text or JSON.")] = OutputFormat.TEXT,
    accelerate: Annotated[
        bool, typer.Option("--accelerate", help="Run with mitogen (pip install 'provisioner\\[accelerate]').")
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            help="Project directory (default: .provisioner/<cloud> beside the topology).",
        ),
    ] = None,
    wait_up: Annotated[
        float, typer.Option("--wait-up", min=0, help="Seconds to wait for the hosts to be Up after the sync.")
    ] = 120.0,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Ansible verbosity (-v to -vvvv).")] = 0,
) -> None:
    """Bootstrap the cloud's machines with Ansible, show progress, then register them with the server.

    The rendered project stays on disk (it is printed with the equivalent ``ansible-playbook`` command);
    each host's outcome is recorded in the run's artifacts. Safe to re-run: a second run changes
    nothing. Exit codes: 0 success, 1 invalid topology, 3 a host failed or the server did not take it.
    """
    from provisioner.ansible import build_inventory, render_project, select_hosts
    from provisioner.ansible.progress import LiveProgress, RunTracker
    from provisioner.ansible.runner import RunOptions, mitogen_environment, run_project, secrets_for
    from provisioner.config import load_topology

    cloud = load_topology(topology)
    if accelerate:
        mitogen_environment()  # fail before rendering when mitogen cannot run
    inventory = build_inventory(cloud)
    selected = select_hosts(inventory, limit) if limit else sorted(inventory.hostvars)
    if not selected:
        raise typer.BadParameter(f"--limit {limit!r} matches no host of {topology}", param_hint="--limit")
    unkeyed = kvm_hosts_without_server_key(cloud, set(selected))
    if unkeyed:
        err_console.print(
            f"[yellow]warning:[/] no management server of their region has an ssh_public_key, so the server "
            f"cannot reach libvirt on {', '.join(unkeyed)}: run `provisioner admin ssh-key` where the server "
            "runs and put the key in management_servers[].ssh_public_key",
            highlight=False,
        )
    project = (project_dir or _default_project_dir(topology, cloud)).resolve()
    render_project(cloud, project, topology, inventory=inventory)
    secrets = secrets_for(cloud)
    options = RunOptions(
        limit=limit,
        check=check,
        diff=diff,
        forks=forks,
        tags=tuple(tags or ()),
        skip_tags=tuple(skip_tags or ()),
        accelerate=accelerate,
        verbosity=verbose,
        ask_vault_pass=secrets.vault_password is not None,
    )
    text = output is OutputFormat.TEXT
    if text:
        err_console.print(f"bootstrapping {len(selected)} host{'s' if len(selected) != 1 else ''} from {project}")
    tracker = RunTracker(selected)
    with LiveProgress(err_console, tracker, len(selected), enabled=text) as progress:
        result = run_project(project, options, secrets, tracker=tracker, event_handler=progress.handle)
    outcome_file = result.write_outcome()
    report: dict[str, Any] = {
        "topology": str(topology),
        "project_dir": str(project),
        "outcome_file": str(outcome_file),
        "run": result.as_json(),
        "sync": None,
    }
    if text:
        _summary(result)
    if not result.ok:
        report["ok"] = False
        if not text:
            print_json(report)
        err_console.print(f"[red]error:[/] {explain_failure(result)}", markup=True, highlight=False)
        raise typer.Exit(EXIT_FAILED)
    hosts = _registered_hosts(cloud, set(selected))
    report["sync"] = _maybe_sync(cloud, api=api, api_key_file=api_key_file, check=check, hosts=hosts, wait=wait_up)
    down = {h: s for h, s in ((report["sync"] or {}).get("hosts") or {}).items() if s != "Up"}
    report["ok"] = not down
    if text:
        _print_sync(report["sync"])
    else:
        print_json(report)
    if down:
        listing = ", ".join(f"{h} ({s})" for h, s in sorted(down.items()))
        err_console.print(
            f"[red]error:[/] the playbook succeeded but these hosts are not Up on the server after {wait_up:g} s: "
            f"{listing}; check the server's log, then run the same command again",
            highlight=False,
        )
        raise typer.Exit(EXIT_FAILED)


def _maybe_sync(
    cloud: Cloud, *, api: str | None, api_key_file: Path | None, check: bool, hosts: list[str], wait: float
) -> dict[str, Any]:
    if check:
        return {"applied": False, "reason": "--check: the server was not changed"}
    if api is None and not (os.environ.get("PROVISIONER_API_URL") or os.environ.get("CLOUDSTACK_ENDPOINT")):
        return {"applied": False, "reason": "no --api (or PROVISIONER_API_URL): the server was not updated"}
    return _sync(cloud, api, api_key_file, hosts, wait)


def _print_sync(sync: dict[str, Any]) -> None:
    if not sync.get("applied"):
        err_console.print(f"[yellow]sync skipped:[/] {sync['reason']}; `provisioner sync --apply` does it later")
        out_console.print("[green]Bootstrap complete.[/]")
        return
    states = sync.get("hosts") or {}
    up = sum(1 for state in states.values() if state == "Up")
    out_console.print(
        f"[green]Bootstrap complete:[/] {sync['steps']} change{'s' if sync['steps'] != 1 else ''} "
        f"registered with {sync['api']}; {up}/{len(states)} hosts Up"
    )
