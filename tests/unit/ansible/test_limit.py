"""--limit: Ansible host-pattern semantics over the built inventory."""

from __future__ import annotations

import pytest

from provisioner.ansible.inventory import Inventory
from provisioner.ansible.limit import HostPatternError, apply_limit, select_hosts, split_pattern
from tests.unit.ansible.cases import case_inventory


@pytest.fixture(scope="module")
def multi() -> Inventory:
    return case_inventory("multi")


def test_split_accepts_commas_and_colons() -> None:
    assert split_pattern("a, b ,c") == ["a", "b", "c"]
    assert split_pattern("a:&b:!c") == ["a", "&b", "!c"]
    assert split_pattern("web[1:3]:db") == ["web[1:3]", "db"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("kvm1", ["kvm1"]),
        ("kvm_hosts", ["kvm1", "kvm2", "kvm3"]),
        ("kvm?", ["kvm1", "kvm2", "kvm3"]),
        ("kvm*", ["kvm1", "kvm2", "kvm3"]),
        ("kvm1,hv1", ["kvm1", "hv1"]),
        ("kvm1:hv1", ["kvm1", "hv1"]),
        ("region_eu:&kvm_hosts", ["kvm1", "kvm2", "kvm3"]),
        ("region_eu:!kvm_hosts", ["ms-eu-1", "nas1", "esx1", "nas2", "xen1"]),
        ("!region_eu", ["ms-us-1", "hv1"]),
        ("&nfs_servers", ["nas1", "nas2"]),
        ("~^ms-", ["ms-eu-1", "ms-us-1"]),
        ("~kvm[12]", ["kvm1", "kvm2"]),
        ("kvm_hosts[0]", ["kvm1"]),
        ("kvm_hosts[1:]", ["kvm2", "kvm3"]),
        ("kvm_hosts[-1]", ["kvm3"]),
        ("zone_eu_*:&image_stores", ["nas1", "nas2"]),
        ("nothing_matches", []),
    ],
)
def test_select_hosts(multi: Inventory, pattern: str, expected: list[str]) -> None:
    assert select_hosts(multi, pattern) == expected


def test_bad_regex_is_reported(multi: Inventory) -> None:
    with pytest.raises(HostPatternError, match="invalid host pattern"):
        select_hosts(multi, "~(")


def test_limit_keeps_only_groups_that_still_have_hosts(multi: Inventory) -> None:
    limited = apply_limit(multi, "kvm1")
    assert list(limited.hostvars) == ["kvm1"]
    assert list(limited.groups) == [
        "all",
        "region_eu",
        "kvm_hosts",
        "zone_eu_west_1",
        "pod_eu_west_1_p1",
        "cluster_kvm_a",
    ]
    assert limited.groups["all"].children == ["region_eu", "kvm_hosts"]
    assert limited.groups["zone_eu_west_1"].hosts == []
    # Group vars survive: roles still see the cluster's storage and bridges.
    assert limited.groups["cluster_kvm_a"].vars == multi.groups["cluster_kvm_a"].vars


def test_limit_leaves_the_original_alone(multi: Inventory) -> None:
    before = list(multi.groups["kvm_hosts"].hosts)
    apply_limit(multi, "hv1")
    assert multi.groups["kvm_hosts"].hosts == before
