"""The example topologies users copy, and the synthetic generator benchmarks use."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
import yaml_rs

from provisioner.config import load_topology
from provisioner.config.loader import load_text
from provisioner.config.synthetic import make_topology

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.mark.parametrize("name", ["lab.yaml", "multi-region.yaml"])
def test_example_validates(name: str) -> None:
    assert load_topology(EXAMPLES / name).name


@pytest.mark.parametrize("name", ["lab.yaml", "multi-region.yaml"])
def test_fast_parser_reads_examples_as_pyyaml_does(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert yaml_rs.loads(text) == yaml.load(text, Loader=yaml.CSafeLoader)


def test_multi_region_covers_every_hypervisor_and_protocol() -> None:
    cloud = load_topology(EXAMPLES / "multi-region.yaml")
    assert [region.name for region in cloud.regions] == ["east", "west"]
    assert len(cloud.zones) == 3
    assert Counter(place.hypervisor for place in cloud.iter_hosts()) == {
        "kvm": 6,
        "vmware": 2,
        "xenserver": 2,
        "hyperv": 2,
    }
    protocols = {pool.protocol.value for zone in cloud.zones for pool in zone.primary_storage}
    assert {"nfs", "iscsi"} <= protocols
    assert {template.hypervisor.value for template in cloud.templates} == {"kvm", "vmware", "xenserver", "hyperv"}


def test_lab_kvm_alternative_validates() -> None:
    """The commented KVM cluster of the lab, swapped in for the simulator one, is valid too."""
    text = (EXAMPLES / "lab.yaml").read_text(encoding="utf-8")
    start, alternative, end = (
        text.index("          - name: lab-sim"),
        text.index("          # - name: lab-kvm"),
        text.index("    primary_storage:"),
    )
    kvm = "".join(line.replace("# ", "", 1) + "\n" for line in text[alternative:end].splitlines())
    swapped = (text[:start] + kvm + text[end:]).replace("hypervisor: simulator", "hypervisor: kvm")
    cloud = load_text(swapped, "lab-kvm.yaml")
    assert [(place.host.name, place.hypervisor) for place in cloud.iter_hosts()] == [("kvm-1", "kvm")]


def test_synthetic_topology_is_valid_and_deterministic() -> None:
    data = make_topology(2, 2, 3, 2, 4)
    assert data == make_topology(2, 2, 3, 2, 4)
    cloud = load_text(yaml.safe_dump(data), "synthetic.yaml")
    assert sum(1 for _ in cloud.iter_hosts()) == 2 * 2 * 3 * 2 * 4


def test_synthetic_refuses_sizes_its_address_plan_cannot_hold() -> None:
    with pytest.raises(ValueError, match="pods must be between 1 and 15, not 16"):
        make_topology(1, 1, 16, 1, 1)
