"""Data sources and provider configuration through terraform, against the lab cloud.

Zones and service offerings exist on every server; the template, network and instance data sources are
exercised with the resources that create what they find.
"""

from __future__ import annotations

import pytest

from tests.integration.terraform.conftest import Workspace
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_zone_and_service_offering_by_name_and_by_id(workspace: Workspace, cloud: LiveServer) -> None:
    zone = cloud.api.listZones(name="lab-zone")["zone"][0]
    tiny = cloud.api.listServiceOfferings(name="tiny")["serviceoffering"][0]
    workspace.write(
        f"""
data "provisioner_zone" "by_name" {{ name = "lab-zone" }}
data "provisioner_zone" "by_id" {{ id = "{zone["id"]}" }}
data "provisioner_zone" "only" {{}}
data "provisioner_service_offering" "tiny" {{ name = "tiny" }}

output "zone" {{ value = data.provisioner_zone.by_name }}
output "same" {{ value = data.provisioner_zone.by_id.name == data.provisioner_zone.only.name }}
output "tiny" {{ value = data.provisioner_service_offering.tiny }}
"""
    )
    workspace.init()
    workspace.apply()
    outputs = workspace.outputs()
    assert outputs["zone"]["id"] == zone["id"]
    assert outputs["zone"]["network_type"] == "Advanced"
    assert outputs["zone"]["allocation_state"] == "Enabled"
    assert outputs["zone"]["dns1"] == "198.18.0.53"
    assert outputs["same"] is True
    assert outputs["tiny"]["id"] == tiny["id"]
    assert (outputs["tiny"]["cpu_number"], outputs["tiny"]["memory"]) == (1, 512)
    assert outputs["tiny"]["display_text"] == tiny["displaytext"]


def test_an_unknown_name_is_an_error_on_that_attribute(workspace: Workspace) -> None:
    workspace.write('data "provisioner_service_offering" "huge" { name = "huge" }\n')
    workspace.init()
    done = workspace.run("plan", "-input=false", check=False)
    assert done.returncode == 1
    assert "Error: No service offering found" in done.stderr
    assert "listServiceOfferings finds no service offering with name 'huge'" in done.stderr
    # The diagnostic points at the attribute in the configuration.
    assert 'on main.tf line 8, in data "provisioner_service_offering" "huge":' in done.stderr
    assert 'name = "huge"' in done.stderr


def test_a_malformed_id_is_an_error_on_id(workspace: Workspace) -> None:
    workspace.write('data "provisioner_zone" "z" { id = "lab-zone" }\n')
    workspace.init()
    done = workspace.run("plan", "-input=false", check=False)
    assert done.returncode == 1
    assert "Error: Invalid zone id" in done.stderr
    assert 'id = "lab-zone"' in done.stderr
