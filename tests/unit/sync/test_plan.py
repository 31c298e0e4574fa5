"""Plans from golden observed states (pure: no server).

``tests/fixtures/sync/lab-applied.json`` holds what a real server answered after ``sync --apply
examples/lab.yaml`` (regenerate it with ``python -m tests.fixtures.sync.capture``). Each case edits a
copy of it (or starts empty) and compares the plan with ``tests/fixtures/sync/plans/<case>.json``;
``SYNC_UPDATE_GOLDEN=1`` rewrites those files for review.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provisioner.config import load_topology
from provisioner.model import Cloud
from provisioner.services.sync import ActionType, Kind, Plan, RawState, desired_state, make_plan, parse_state
from provisioner.services.sync.desired import regions_served_by, selected_zones
from provisioner.services.sync.render import render_plan

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "sync"
LAB = ROOT / "examples" / "lab.yaml"
MULTI = ROOT / "examples" / "multi-region.yaml"


def applied() -> RawState:
    """The server's answers after the lab was applied (plus a zone the lab does not name)."""
    raw: RawState = json.loads((FIXTURES / "lab-applied.json").read_text())
    return raw


def plan_of(cloud: Cloud, raw: RawState, regions: list[str] | None = None) -> Plan:
    """Plan ``cloud`` against ``raw`` as sync does (same scope rule)."""
    zones = {zone.name for zone in selected_zones(cloud, regions)}
    return make_plan(desired_state(cloud, regions), parse_state(raw, zones))


def _by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item.get("name") == name)


def drifted() -> RawState:
    """The applied lab after an operator changed things by hand, and with objects the file does not name."""
    raw = copy.deepcopy(applied())
    zone = _by_name(raw["zones"], "lab-zone")
    zone["allocationstate"] = "Disabled"  # → update (enabled again, last)
    _by_name(raw["service_offerings"], "tiny")["displaytext"] = "old text"  # → update
    raw["clusters"][0]["cpuovercommitratio"] = "2.0"  # → update (updateConfiguration clusterid=)
    raw["ip_ranges"][0]["vlan"] = "vlan://51"  # a range cannot change in place → replace
    raw["providers"][0]["state"] = "Disabled"  # → physical network update (enable the provider)
    pod = copy.deepcopy(raw["pods"][0]) | {"id": "pod-old", "name": "old-pod"}
    cluster = copy.deepcopy(raw["clusters"][0]) | {"id": "cluster-old", "name": "old-sim", "podid": "pod-old"}
    host = copy.deepcopy(raw["hosts"][0]) | {"id": "host-old", "name": "old-1", "clusterid": "cluster-old"}
    raw["pods"].append(pod)
    raw["clusters"].append(cluster)
    raw["hosts"].append(host)
    # The same kinds of objects in a zone the file does not name: never read into the plan, never deleted.
    other = _by_name(raw["zones"], "other-zone")
    raw["pods"].append(copy.deepcopy(raw["pods"][0]) | {"id": "pod-foreign", "zoneid": other["id"]})
    return raw


CASES: dict[str, Callable[[], Plan]] = {
    "lab-empty": lambda: plan_of(load_topology(LAB), {}),
    "lab-applied": lambda: plan_of(load_topology(LAB), applied()),
    "lab-drift": lambda: plan_of(load_topology(LAB), drifted()),
    "multi-region-empty": lambda: plan_of(load_topology(MULTI), {}),
    "multi-region-west": lambda: plan_of(load_topology(MULTI), {}, ["west"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_matches_its_golden_file(case: str) -> None:
    got = CASES[case]().as_json()
    path = FIXTURES / "plans" / f"{case}.json"
    if os.environ.get("SYNC_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert got == json.loads(path.read_text())


def test_an_applied_lab_plans_nothing() -> None:
    plan = CASES["lab-applied"]()
    assert not plan.has_changes
    assert plan.summary() == "Plan: 0 to create, 0 to update, 0 to delete, 15 unchanged."


def test_creates_follow_the_zone_build_order() -> None:
    kinds = [action.resource.kind for action in CASES["multi-region-empty"]().actions]
    assert kinds == sorted(kinds, key=lambda kind: kind.rank)
    assert kinds[0] is Kind.ZONE and kinds[-1] is Kind.ISO


def test_drift_plans_exactly_the_changes_and_deletes_children_first() -> None:
    plan = CASES["lab-drift"]()
    changed = [
        (a.type, a.resource.kind, "/".join(a.resource.key)) for a in plan.actions if a.type is not ActionType.UNCHANGED
    ]
    assert changed == [
        (ActionType.DELETE, Kind.HOST, "lab-zone/old-pod/old-sim/old-1"),
        (ActionType.DELETE, Kind.CLUSTER, "lab-zone/old-pod/old-sim"),
        (ActionType.DELETE, Kind.POD, "lab-zone/old-pod"),
        (ActionType.UPDATE, Kind.ZONE, "lab-zone"),
        (ActionType.UPDATE, Kind.PHYSICAL_NETWORK, "lab-zone/lab-net"),
        (ActionType.REPLACE, Kind.IP_RANGE, "lab-zone/lab-net/198.18.1.10-198.18.1.99"),
        (ActionType.UPDATE, Kind.CLUSTER, "lab-zone/lab-pod/lab-sim"),
        (ActionType.UPDATE, Kind.SERVICE_OFFERING, "tiny"),
    ]
    assert plan.summary() == "Plan: 1 to create, 4 to update, 4 to delete, 10 unchanged."
    # Nothing of other-zone, nor the stock offerings the file does not name, appears at all.
    assert all(action.resource.key[0] != "other-zone" for action in plan.actions)
    assert all(action.resource.name != "Small Instance" for action in plan.actions)


def test_a_host_is_matched_by_its_address_when_the_server_names_it_otherwise() -> None:
    cloud = load_topology(MULTI)
    desired = desired_state(cloud, ["west"])
    host = next(r for r in desired if r.kind is Kind.HOST)
    renamed = type(host)(Kind.HOST, (*host.key[:3], "node17.example.org"), host.fields, id="h1", aliases=host.aliases)
    plan = make_plan([r for r in desired if r.kind is Kind.HOST][:1], [renamed])
    assert [action.type for action in plan.actions] == [ActionType.UNCHANGED]


def test_multi_region_hosts_and_pools_get_their_hypervisor_urls() -> None:
    creates = {"/".join(a.resource.key): a.as_json()["params"] for a in CASES["multi-region-empty"]().actions}
    assert creates["east-1/east-1-a/east-1-a-kvm/kvm-e1a-01"]["url"] == "http://198.18.16.101"
    assert creates["east-1/east-1-a/east-1-a-kvm/kvm-e1a-01"]["passwordref"] == "env:EAST_KVM_ROOT_PASSWORD"
    assert (
        creates["east-1/east-1-a/east-1-a-vmware/esxi-e1a-01"]["url"]
        == "http://198.18.0.30/East-DC1/Compute-A/198.18.16.111"
    )
    assert creates["east-1/east-1-xen-iscsi"]["url"] == "iscsi://198.18.0.21/iqn.2024-01.org.example.east:xen-pool/0"
    assert creates["east-1/east-1-kvm-nfs"]["url"] == "nfs://198.18.0.20/export/east-1/primary"
    assert creates["east-2/east-2-hyperv-shared"]["url"] == "presetup://localhost/shares/east-2-primary"


def test_the_text_plan_shows_symbols_changes_and_the_summary() -> None:
    text = render_plan(CASES["lab-drift"]()).plain
    assert "  - host lab-zone/old-pod/old-sim/old-1  (id host-old)" in text
    assert "  ~ service offering tiny" in text and 'displaytext: "old text" → "1 vCPU, 512 MiB"' in text
    assert "-/+ public ip range lab-zone/lab-net/198.18.1.10-198.18.1.99" in text
    assert text.endswith("Plan: 1 to create, 4 to update, 4 to delete, 10 unchanged.")
    assert "No changes." in render_plan(CASES["lab-applied"]()).plain


def test_the_api_url_picks_the_regions_it_serves() -> None:
    cloud = load_topology(MULTI)
    assert regions_served_by(cloud, "https://cloud-west.example.org/client/api") == ["west"]
    assert regions_served_by(cloud, "http://198.18.0.11:8080/client/api") == ["east"]
    assert regions_served_by(cloud, "http://198.18.0.11:9999/client/api") == []
