"""The CDKTF constructs follow the provider schema, and plain JSON generation checks against it."""

from __future__ import annotations

import pytest
from provisioner_terraform import cdk
from provisioner_terraform.codegen import TARGET, class_name, generate
from provisioner_terraform.schema_export import data_source_schemas, provider_schema, resource_schemas
from provisioner_terraform.tfjson import Stack, TerraformJsonError


def test_the_committed_constructs_are_what_the_schema_generates() -> None:
    assert TARGET.read_text() == generate(), "stale: run `python -m provisioner_terraform.codegen`"


@pytest.mark.parametrize(
    "schema", [provider_schema(), *resource_schemas(), *data_source_schemas()], ids=lambda s: f"{s.kind}.{s.type_name}"
)
def test_one_construct_per_type_with_every_attribute(schema: object) -> None:
    construct = getattr(cdk, class_name(schema))  # type: ignore[arg-type]
    assert schema.type_name == construct.TF_TYPE  # type: ignore[attr-defined]
    if schema.kind != "provider":  # type: ignore[attr-defined]
        for attribute in schema.attributes:  # type: ignore[attr-defined]
            assert isinstance(getattr(construct, attribute.name), property), attribute.name


def test_plain_json_references_and_defaults() -> None:
    stack = Stack(backend_path="terraform.tfstate")
    zone = stack.data("provisioner_zone", "lab", name="lab-zone")
    vm = stack.resource("provisioner_instance", "web", zone=zone.id, template="t", service_offering="tiny", name="web")
    stack.output("ip", vm.ip_address)
    document = stack.to_dict()
    assert document["terraform"]["required_providers"]["provisioner"] == {
        "source": "provisioner/provisioner",
        "version": "0.1.0",
    }
    assert document["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    assert document["resource"]["provisioner_instance"]["web"] == {
        "zone": "${data.provisioner_zone.lab.id}",
        "template": "t",
        "service_offering": "tiny",
        "name": "web",
    }
    assert document["output"]["ip"] == {"value": "${provisioner_instance.web.ip_address}"}
    assert vm.ref("name") == "${provisioner_instance.web.name}"


def test_plain_json_mistakes_are_caught_in_python() -> None:
    stack = Stack()
    with pytest.raises(
        TerraformJsonError, match=r"unknown attribute 'service_ofering' \(did you mean 'service_offering'"
    ):
        stack.resource("provisioner_instance", "a", service_ofering="tiny")
    with pytest.raises(TerraformJsonError, match="'state' is computed by the provider"):
        stack.resource("provisioner_instance", "b", state="Running")
    with pytest.raises(TerraformJsonError, match="no resource type 'provisioner_vm'"):
        stack.resource("provisioner_vm", "c")
    zone = stack.data("provisioner_zone", "z")
    with pytest.raises(TerraformJsonError, match="has no attribute 'ip'"):
        _ = zone.ip
    stack.resource("provisioner_volume", "d", name="d", timeouts={"create": "1m"})
    with pytest.raises(TerraformJsonError, match='"provisioner_volume" "d": missing required zone, disk_offering'):
        stack.to_dict()
