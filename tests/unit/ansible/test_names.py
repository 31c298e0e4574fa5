"""Group and host naming: sanitising, and qualifying names that collide."""

from __future__ import annotations

from provisioner.ansible.names import group_maker, host_name, sanitize, unique_names
from tests.unit.ansible.cases import case_inventory


def test_sanitize_replaces_every_invalid_character() -> None:
    assert sanitize("eu-west.1") == "eu_west_1"
    assert sanitize("a_b9") == "a_b9"


def test_unique_names_keep_the_short_form() -> None:
    paths = [("z1", "p1"), ("z1", "p2")]
    assert unique_names(paths, group_maker("pod")) == ["pod_p1", "pod_p2"]


def test_same_name_in_two_parents_is_qualified_with_the_parent() -> None:
    paths = [("z1", "p1"), ("z2", "p1"), ("z2", "other")]
    assert unique_names(paths, group_maker("pod")) == ["pod_z1_p1", "pod_z2_p1", "pod_other"]


def test_qualification_climbs_until_unique() -> None:
    # Both pods sanitise to p_1 and both zones to z_1: only the region separates them.
    paths = [("r1", "z-1", "p-1"), ("r2", "z_1", "p_1")]
    assert unique_names(paths, group_maker("pod")) == ["pod_r1_z_1_p_1", "pod_r2_z_1_p_1"]


def test_names_no_ancestry_separates_get_a_stable_digest() -> None:
    paths = [("z", "a-b"), ("z", "a_b")]
    first = unique_names(paths, group_maker("cluster"))
    assert first == unique_names(list(paths), group_maker("cluster"))
    assert first[0] != first[1]
    assert all(name.startswith("cluster_a_b_") and len(name) == len("cluster_a_b_") + 8 for name in first)


def test_a_qualified_name_never_takes_a_name_already_given() -> None:
    # "pod_z_p" is pod "z_p"'s own short name; the clashing "p" pods must not take it.
    paths = [("x", "z_p"), ("z", "p"), ("y", "p")]
    names = unique_names(paths, group_maker("pod"))
    assert names[0] == "pod_z_p"
    assert len(set(names)) == 3


def test_host_names_are_qualified_innermost_parent_first() -> None:
    paths = [("zone", "pod", "c1", "h"), ("zone", "pod", "c2", "h")]
    assert unique_names(paths, host_name, separator="-") == ["h.c1", "h.c2"]


def test_collision_case_gives_valid_distinct_group_names() -> None:
    inventory = case_inventory("collisions")
    names = list(inventory.groups)
    assert len(names) == len(set(names))
    assert all(name.replace("_", "a").isalnum() and not name[0].isdigit() for name in names)
    assert {"zone_z_1_1f88a7c9", "zone_z_1_83a9701d"} <= set(names)
