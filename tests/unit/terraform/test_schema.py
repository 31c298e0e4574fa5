"""Provider schema invariants: every resource importable with an id and timeouts, durations parsed."""

from __future__ import annotations

import pytest
from provisioner_terraform.base import parse_duration
from provisioner_terraform.provider import DATA_SOURCES, RESOURCES, ProvisionerProvider
from tf.iface import is_importable

EXPECTED_RESOURCES = {"instance", "volume", "template", "ssh_keypair", "network"}
EXPECTED_DATA = {"zone", "template", "service_offering", "network", "instance"}


def test_the_issue_s_resources_and_data_sources() -> None:
    assert {r.get_name() for r in RESOURCES} == EXPECTED_RESOURCES
    assert {d.get_name() for d in DATA_SOURCES} == EXPECTED_DATA
    assert ProvisionerProvider().full_name() == "registry.terraform.io/provisioner/provisioner"


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.get_name())
def test_every_resource_is_importable_and_has_a_computed_id(resource: type) -> None:
    assert is_importable(resource)
    attributes = {a.name: a for a in resource.get_schema().attributes}
    assert attributes["id"].computed and not attributes["id"].optional


@pytest.mark.parametrize(
    "resource", [r for r in RESOURCES if r.get_name() != "ssh_keypair"], ids=lambda r: r.get_name()
)
def test_resources_with_jobs_take_a_timeouts_block(resource: type) -> None:
    assert [b.type_name for b in resource.get_schema().block_types] == ["timeouts"]


def test_instance_attributes_follow_cloudstack_instance() -> None:
    instance = next(r for r in RESOURCES if r.get_name() == "instance")
    attributes = {a.name: a for a in instance.get_schema().attributes}
    assert attributes["template"].requires_replace and attributes["zone"].requires_replace
    assert not attributes["service_offering"].requires_replace
    assert {"state", "host", "nics"} <= {name for name, a in attributes.items() if a.computed and not a.optional}


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5m", 90), ("2h", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
