"""The ``terraform-provider-provisioner`` executable: serve the provider to Terraform (or ``--dev`` for reattach)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Serve the provider over the go-plugin handshake, or in reattach mode with ``--dev``."""
    from provisioner_terraform.provider import ProvisionerProvider
    from provisioner_terraform.serve import serve

    sys.exit(serve(ProvisionerProvider(), sys.argv[1:] if argv is None else argv))
