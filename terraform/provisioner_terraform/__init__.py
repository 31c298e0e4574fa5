"""The provisioner Terraform provider: plugin protocol 6 over the Python ``tf`` framework, plus CDKTF constructs.

Users declare ``source = "provisioner/provisioner"``; ``provisioner terraform install`` puts the provider into a
local filesystem mirror that serves that address (:mod:`provisioner_terraform.install`).
"""

from __future__ import annotations

#: The provider's address parts and version, as ``required_providers`` names them.
HOSTNAME = "registry.terraform.io"
NAMESPACE = "provisioner"
TYPE = "provisioner"
VERSION = "0.1.0"
#: ``source`` in ``required_providers``.
SOURCE = f"{NAMESPACE}/{TYPE}"
#: The fully qualified address Terraform uses (reattach configuration, lock file).
ADDRESS = f"{HOSTNAME}/{SOURCE}"
#: The executable's name; Terraform derives the provider type from it.
EXECUTABLE = f"terraform-provider-{TYPE}"

__all__ = ["ADDRESS", "EXECUTABLE", "HOSTNAME", "NAMESPACE", "SOURCE", "TYPE", "VERSION"]
