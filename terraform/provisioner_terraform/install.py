"""Install the provider into a local filesystem mirror and write the Terraform CLI configuration for it.

Layout (Terraform's "unpacked" filesystem-mirror layout)::

    DIR/terraformrc
    DIR/mirror/registry.terraform.io/provisioner/provisioner/0.1.0/linux_amd64/terraform-provider-provisioner_v0.1.0

The CLI configuration takes ``registry.terraform.io/provisioner/*`` from the mirror and every other
provider from its usual origin. The executable is a fixed shell script that runs
``$PROVISIONER_TF_PYTHON -m provisioner_terraform``: it names no virtualenv, so its bytes, and thus the
``h1:`` hash Terraform records in ``.terraform.lock.hcl``, are the same on every machine
(:data:`LOCK_HASH`). The interpreter comes from the environment, printed as a second ``export`` line.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from provisioner_terraform import EXECUTABLE, HOSTNAME, NAMESPACE, SOURCE, TYPE, VERSION

#: The variable the wrapper script reads to find the Python that has provisioner_terraform installed.
PYTHON_VARIABLE = "PROVISIONER_TF_PYTHON"
WRAPPER = f"""#!/bin/sh
# {EXECUTABLE} {VERSION}: the provisioner Terraform provider, written in Python.
# `provisioner terraform install` prints the {PYTHON_VARIABLE} and TF_CLI_CONFIG_FILE lines to export.
if [ -z "${PYTHON_VARIABLE}" ]; then
    echo "{EXECUTABLE}: {PYTHON_VARIABLE} is not set; run: eval \\"\\$(provisioner terraform install)\\"" >&2
    exit 1
fi
exec "${PYTHON_VARIABLE}" -m provisioner_terraform "$@"
"""
#: The ``h1:`` hash of the installed provider package (the wrapper above); the lock file records it.
#: ``tests/unit/terraform/test_install.py`` keeps it equal to :func:`package_hash` of a fresh install.
LOCK_HASH = "h1:S2W8uK5xw2lm7GQqFpfdTSik1YeYcY3Udh4OSjyk8LU="

CLI_CONFIG = """# Written by `provisioner terraform install`: the provisioner provider comes from the local mirror,
# every other provider from its usual origin.
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{hostname}/{namespace}/*"]
  }}
  direct {{
    exclude = ["{hostname}/{namespace}/*"]
  }}
}}
"""


def terraform_platform() -> str:
    """Terraform's name for this machine's platform (``linux_amd64``, ``darwin_arm64``...)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return f"{sys.platform.removesuffix('2')}_{arch}"


def package_hash(directory: Path) -> str:
    """Terraform's ``h1:`` hash of an unpacked provider directory (Go's ``dirhash.Hash1``)."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    summary = "".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(directory).as_posix()}\n" for path in files
    )
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


@dataclass(frozen=True)
class Installation:
    """What :func:`install` wrote."""

    cli_config: Path
    mirror: Path
    executable: Path
    python: str
    lock_hash: str

    def exports(self) -> list[str]:
        """The lines a shell evaluates to use the mirror."""
        return [
            f"export TF_CLI_CONFIG_FILE={shlex.quote(str(self.cli_config))}",
            f"export {PYTHON_VARIABLE}={shlex.quote(self.python)}",
        ]


def default_directory() -> Path:
    """``$XDG_DATA_HOME/provisioner/terraform`` (or the platform's equivalent)."""
    from platformdirs import user_data_path

    return user_data_path("provisioner") / "terraform"


def install(directory: Path | None = None, python: str | None = None) -> Installation:
    """Write the mirror and the CLI configuration under ``directory``; idempotent.

    Args:
        directory: where to write (default :func:`default_directory`).
        python: the interpreter that has ``provisioner_terraform`` installed (default: this one).
    """
    root = (directory or default_directory()).expanduser().resolve()
    mirror = root / "mirror"
    package = mirror / HOSTNAME / NAMESPACE / TYPE / VERSION / terraform_platform()
    package.mkdir(parents=True, exist_ok=True)
    executable = package / f"{EXECUTABLE}_v{VERSION}"
    executable.write_text(WRAPPER)
    executable.chmod(0o755)
    cli_config = root / "terraformrc"
    cli_config.write_text(CLI_CONFIG.format(mirror=mirror, hostname=HOSTNAME, namespace=NAMESPACE))
    return Installation(cli_config, mirror, executable, python or sys.executable, package_hash(package))


def usage(installation: Installation) -> str:
    """What to tell the user after an install (for stderr: stdout carries only the export lines)."""
    return (
        f"Installed {SOURCE} {VERSION} into {installation.mirror}\n"
        f"Lock-file hash: {installation.lock_hash}\n"
        f'Declare it with: required_providers {{ provisioner = {{ source = "{SOURCE}", version = "{VERSION}" }} }}\n'
        f'Then: eval "$(provisioner terraform install)" (or export the lines above) and terraform init.\n'
    )


def main_environment(installation: Installation) -> dict[str, str]:
    """The environment variables the export lines set (for programs that run terraform themselves)."""
    return {"TF_CLI_CONFIG_FILE": str(installation.cli_config), PYTHON_VARIABLE: installation.python}
