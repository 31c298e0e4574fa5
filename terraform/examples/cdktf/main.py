"""A VM with an SSH key pair and an attached data volume, in Python: with CDKTF (or cdktn), or as plain JSON.

    python main.py                 # CDKTF: writes cdktf.out/stacks/lab/cdk.tf.json (needs node)
    python main.py --plain out/    # no Node: writes out/main.tf.json with provisioner_terraform.tfjson

Then, in the stack directory: ``terraform init && terraform apply`` (after
``eval "$(provisioner terraform install)"`` and with PROVISIONER_API_URL/_API_KEY/_SECRET_KEY set).
The names below match examples/lab.yaml; override them with EXAMPLE_ZONE, EXAMPLE_TEMPLATE,
EXAMPLE_OFFERING and EXAMPLE_DISK_OFFERING.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

STACK = "lab"


@dataclass(frozen=True)
class Lab:
    """What the example deploys into."""

    zone: str = os.environ.get("EXAMPLE_ZONE", "lab-zone")
    template: str = os.environ.get("EXAMPLE_TEMPLATE", "cirros")
    offering: str = os.environ.get("EXAMPLE_OFFERING", "tiny")
    disk_offering: str = os.environ.get("EXAMPLE_DISK_OFFERING", "10GB")


def synth_cdktf(outdir: Path, lab: Lab) -> Path:
    """Synthesize the stack with CDKTF (or cdktn); return the directory holding cdk.tf.json."""
    from constructs import Construct
    from provisioner_terraform.cdk import (
        DataProvisionerZone,
        ProvisionerInstance,
        ProvisionerProvider,
        ProvisionerSshKeypair,
        ProvisionerVolume,
    )

    try:
        import cdktf
    except ImportError:
        import cdktn as cdktf  # type: ignore[no-redef]

    class LabStack(cdktf.TerraformStack):
        def __init__(self, scope: Construct, name: str) -> None:
            super().__init__(scope, name)
            cdktf.LocalBackend(self, path="terraform.tfstate")  # relative: the output stays relocatable
            ProvisionerProvider(self, "provisioner")
            zone = DataProvisionerZone(self, "zone", name=lab.zone)
            key = ProvisionerSshKeypair(self, "key", name="cdktf-example")
            vm = ProvisionerInstance(
                self,
                "web",
                name="cdktf-web",
                zone=zone.id,
                template=lab.template,
                service_offering=lab.offering,
                keypair=key.name,
                tags={"managed-by": "cdktf"},
                timeouts={"create": "10m"},
            )
            ProvisionerVolume(
                self,
                "data",
                name="cdktf-data",
                zone=zone.id,
                disk_offering=lab.disk_offering,
                attach=True,
                virtual_machine_id=vm.id,
            )
            cdktf.TerraformOutput(self, "ip_address", value=vm.ip_address)
            cdktf.TerraformOutput(self, "state", value=vm.state)

    app = cdktf.App(outdir=str(outdir))
    LabStack(app, STACK)
    app.synth()
    return outdir / "stacks" / STACK


def write_plain(outdir: Path, lab: Lab) -> Path:
    """The same stack as plain Terraform JSON, without Node; return the directory holding main.tf.json."""
    from provisioner_terraform.tfjson import Stack

    stack = Stack(backend_path="terraform.tfstate")
    zone = stack.data("provisioner_zone", "zone", name=lab.zone)
    key = stack.resource("provisioner_ssh_keypair", "key", name="plain-example")
    vm = stack.resource(
        "provisioner_instance",
        "web",
        name="plain-web",
        zone=zone.id,
        template=lab.template,
        service_offering=lab.offering,
        keypair=key.name,
        tags={"managed-by": "tfjson"},
        timeouts={"create": "10m"},
    )
    stack.resource(
        "provisioner_volume",
        "data",
        name="plain-data",
        zone=zone.id,
        disk_offering=lab.disk_offering,
        attach=True,
        virtual_machine_id=vm.id,
    )
    stack.output("ip_address", vm.ip_address)
    stack.output("state", vm.state)
    outdir.mkdir(parents=True, exist_ok=True)
    stack.write(outdir / "main.tf.json")
    return outdir


def main() -> None:
    """Parse the arguments and write the stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", type=Path, metavar="DIR", help="write plain Terraform JSON into DIR (no Node)")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"), help="CDKTF output directory")
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    where = write_plain(args.plain, Lab()) if args.plain else synth_cdktf(args.outdir, Lab())
    print(where)


if __name__ == "__main__":
    main()
