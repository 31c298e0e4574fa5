"""The executor against a recording fake client: canonical order, ids handed on, deletes first, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from provisioner.client import CloudStackClient, Json, Value
from provisioner.config import load_topology
from provisioner.exceptions import ParamError
from provisioner.services.sync import Executor, SyncError, desired_state, make_plan, parse_state

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "examples" / "lab.yaml"


class FakeClient:
    """Answers creates with new ids, lists what the executor asks for, and records every call."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Value]]] = []
        self.fail = fail

    def call(self, command: str, **params: Value) -> Json:
        self.calls.append((command, params))
        if command == self.fail:
            raise ParamError("Host with url http://sim/x already exists")
        renamed = {"createVlanIpRange": "vlan", "registerTemplate": "template", "registerIso": "iso"}
        key = renamed.get(command, command.removeprefix("create").removeprefix("add").lower())
        return {
            key: [{"id": f"id-{len(self.calls)}"}]
            if command in ("addHost", "addCluster")
            else {"id": f"id-{len(self.calls)}"}
        }

    def list_all(self, command: str, **filters: Value) -> list[Json]:
        self.calls.append((command, filters))
        if command == "listNetworkServiceProviders":
            return [{"id": "nsp", "state": "Disabled"}]
        if command == "listVirtualRouterElements":
            return [{"id": "vre", "enabled": False}]
        if command == "listHosts":
            return [{"id": filters["id"], "state": "Up", "resourcestate": "Maintenance"}]
        if command == "listOsTypes":
            return [{"id": "os-1", "description": filters["description"]}]
        return []


def run(plan_raw: dict[str, Any], fail: str | None = None) -> FakeClient:
    cloud = load_topology(LAB)
    plan = make_plan(desired_state(cloud), parse_state(plan_raw, {"lab-zone"}))
    fake = FakeClient(fail)
    Executor(cast(CloudStackClient, fake), plan, host_timeout=1).run()
    return fake


def test_an_empty_server_is_built_in_the_canonical_zone_build_order() -> None:
    commands = [command for command, _ in run({}).calls]
    assert commands == [
        "createZone",
        "createPhysicalNetwork",
        "addTrafficType",
        "addTrafficType",
        "addTrafficType",
        "listNetworkServiceProviders",
        "listVirtualRouterElements",
        "configureVirtualRouterElement",
        "updateNetworkServiceProvider",
        "updatePhysicalNetwork",
        "createPod",
        "createVlanIpRange",
        "addCluster",
        "updateConfiguration",
        "updateConfiguration",
        "addHost",
        "addHost",
        "listHosts",
        "listHosts",
        "createStoragePool",
        "addImageStore",
        "createServiceOffering",
        "createDiskOffering",
        "listOsTypes",
        "registerTemplate",
        "updateZone",
    ]


def test_a_template_for_all_zones_registers_cross_zone_with_its_os_type_id() -> None:
    calls = run({}).calls
    (template,) = [params for command, params in calls if command == "registerTemplate"]
    assert template["zoneid"] == "-1" and template["ostypeid"] == "os-1" and "zones" not in template
    assert (template["name"], template["format"], template["hypervisor"]) == ("cirros", "QCOW2", "Simulator")


def test_created_ids_reach_the_children_and_hosts_carry_their_url() -> None:
    calls = run({}).calls
    zone_id = "id-1"
    pod = next(params for command, params in calls if command == "createPod")
    host = next(params for command, params in calls if command == "addHost")
    cluster_id = next(f"id-{n + 1}" for n, (command, _) in enumerate(calls) if command == "addCluster")
    assert pod["zoneid"] == zone_id
    assert host["clusterid"] == cluster_id and host["url"] == "http://sim/lab-sim/sim-1"
    assert host["hypervisor"] == "Simulator" and "password" not in host
    zone_state = calls[-1][1]
    assert zone_state == {"id": zone_id, "allocationstate": "Enabled"}


def test_deletes_run_first_and_a_host_goes_into_maintenance_before() -> None:
    raw = json.loads((ROOT / "tests" / "fixtures" / "sync" / "lab-applied.json").read_text())
    raw["hosts"].append(raw["hosts"][0] | {"id": "gone", "name": "sim-old"})
    calls = run(raw).calls
    assert [command for command, _ in calls] == ["prepareHostForMaintenance", "listHosts", "deleteHost"]
    assert all(params.get("id") == "gone" for _, params in calls)


def test_a_failure_names_the_object_and_the_server_error() -> None:
    with pytest.raises(SyncError) as caught:
        run({}, fail="addHost")
    assert str(caught.value) == (
        "create host lab-zone/lab-pod/lab-sim/sim-1 failed (error 431): Host with url http://sim/x already exists"
    )
