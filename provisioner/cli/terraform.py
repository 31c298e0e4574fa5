"""``provisioner terraform``: install the Terraform provider into a local filesystem mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli.output import err_console
from provisioner.exceptions import ProvisionerError

terraform_app = typer.Typer(
    help="The Terraform provider: install it for `terraform init`.", no_args_is_help=True, add_completion=False
)


@terraform_app.command("install")
def install(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to put the mirror and the CLI configuration (default: ~/.local/share/provisioner/terraform).",
            file_okay=False,
        ),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option("--python", help="The Python that has provisioner_terraform installed (default: this one)."),
    ] = None,
) -> None:
    """Install the provider into a filesystem mirror and print the `export` lines for your shell.

    Use it as `eval "$(provisioner terraform install)"`: stdout holds only the export lines; the lock-file
    hash and the next steps go to stderr. Configurations declare `source = "provisioner/provisioner"`.
    """
    try:
        from provisioner_terraform.install import install as install_provider
        from provisioner_terraform.install import usage
    except ImportError:
        raise ProvisionerError(
            "the Terraform provider package is not installed: run `pip install -e terraform/` "
            "(make does it) in the environment that runs provisioner"
        ) from None
    installation = install_provider(directory, python)
    for line in installation.exports():
        typer.echo(line)
    err_console.print(usage(installation), highlight=False, markup=False, end="")
