"""The ``provisioner`` command: argument parsing only; the library does the work.

Exit codes: 0 success, 1 the input is invalid (every problem is listed), 2 usage error,
3 an operation failed (the message says what and what to do), 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from provisioner import __version__
from provisioner.cli import bootstrap, server, sync, terraform, topology
from provisioner.cli.output import err_console, print_issues
from provisioner.exceptions import ConfigFileError, ModelError, ProvisionerError

app = typer.Typer(
    name="provisioner",
    help="Turn racks of bare metal into a CloudStack-compatible private cloud from one topology file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"provisioner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Turn racks of bare metal into a CloudStack-compatible private cloud from one topology file."""


app.command(name="validate")(topology.validate)
app.command(name="inventory")(topology.inventory)
app.command(name="render")(topology.render)
app.command(name="serve")(server.serve)
app.command(name="sync")(sync.sync)
app.command(name="bootstrap")(bootstrap.bootstrap)
app.add_typer(server.db_app, name="db")
app.add_typer(server.admin_app, name="admin")
app.add_typer(terraform.terraform_app, name="terraform")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes; returns the code (and exits when run as a script)."""
    try:
        # Standalone mode: typer prints usage errors (exit 2) and handles Exit; our errors propagate.
        app(args=argv, prog_name="provisioner")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ModelError as exc:
        print_issues(exc.issues)
        code = 1
    except ConfigFileError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        code = 1
    except ProvisionerError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        code = 3
    except KeyboardInterrupt:
        err_console.print("interrupted")
        code = 130
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
