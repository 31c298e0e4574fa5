"""``provisioner sync`` against a real server (SQLite and PostgreSQL), through the CLI as a user runs it.

The lab is applied, comes Up, re-plans to nothing, then a changed file (a new host, an offering's new
display text, a removed pod) plans exactly that and applies it. The multi-region example's KVM, VMware,
XenServer and Hyper-V hosts cannot be reached here, so only its plan is checked against the server.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from provisioner.db.engine import create_engine_for
from provisioner.db.schema import host
from tests.support.server import REPO_ROOT, LiveServer
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

LAB = REPO_ROOT / "examples" / "lab.yaml"
MULTI = REPO_ROOT / "examples" / "multi-region.yaml"


def run_sync(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    """``provisioner sync`` with the admin keys in the environment (never on the command line)."""
    env = server.env() | {
        "PROVISIONER_API_URL": server.url,
        "PROVISIONER_API_KEY": server.apikey,
        "PROVISIONER_SECRET_KEY": server.secretkey,
    }
    done = subprocess.run(
        [require_tool("provisioner"), "sync", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert server.secretkey not in done.stdout + done.stderr
    return done


def plan_json(server: LiveServer, topology: Path) -> tuple[int, dict[str, Any]]:
    """The exit code (``--detailed-exitcode``) and the plan as data."""
    done = run_sync(server, str(topology), "--output", "json", "--detailed-exitcode")
    assert done.returncode in (0, 2), done.stderr
    return done.returncode, json.loads(done.stdout)


def changes(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(action, kind, key) of every action that changes something."""
    return [(a["action"], a["kind"], "/".join(a["key"])) for a in plan["actions"] if a["action"] != "unchanged"]


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write a topology document and return its path."""
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def stored_credential(server: LiveServer, host_name: str) -> str | None:
    """What the server's database keeps as a host's credential."""
    engine = create_engine_for(server.db_url)
    try:
        with engine.connect() as conn:
            query = select(host.c.credential).where(host.c.name == host_name, host.c.removed.is_(None))
            value = conn.execute(query).scalar_one()
            return None if value is None else str(value)
    finally:
        engine.dispose()


def ready_template(server: LiveServer, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """The admin's template ``name`` once Ready: a simulated store completes it on the reconciler's next round."""
    deadline = time.monotonic() + timeout
    while True:
        (row,) = server.api.listTemplates(templatefilter="self", name=name)["template"]
        if row["isready"] or time.monotonic() > deadline:
            assert row["isready"], row
            return dict(row)
        time.sleep(0.5)


def two_pod_lab() -> dict[str, Any]:
    """The lab with a second pod holding one simulator cluster and host."""
    document: dict[str, Any] = yaml.safe_load(LAB.read_text())
    document["zones"][0]["pods"].append(
        {
            "name": "lab-pod-2",
            "gateway": "198.18.2.1",
            "netmask": "255.255.255.0",
            "start_ip": "198.18.2.100",
            "end_ip": "198.18.2.150",
            "clusters": [
                {
                    "name": "lab-sim-2",
                    "hypervisor": "simulator",
                    # A credential reference travels to addHost as a reference, never as a password.
                    "hosts": [{"name": "sim-3", "credentials": {"env": "LAB_SIM_PASSWORD", "username": "root"}}],
                }
            ],
        }
    )
    return document


def test_sync_applies_the_lab_converges_and_applies_exactly_a_change(live_server: LiveServer, tmp_path: Path) -> None:
    base = write(tmp_path / "base.yaml", two_pod_lab())
    code, plan = plan_json(live_server, base)
    assert code == 2
    assert plan["summary"] == {"create": 18, "update": 0, "delete": 0, "unchanged": 0}

    applied = run_sync(live_server, str(base), "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete" in applied.stdout
    hosts = live_server.api.listHosts(type="Routing")["host"]
    assert sorted((h["name"], h["state"]) for h in hosts) == [("sim-1", "Up"), ("sim-2", "Up"), ("sim-3", "Up")]
    assert live_server.api.listZones(name="lab-zone")["zone"][0]["allocationstate"] == "Enabled"
    assert stored_credential(live_server, "sim-3") == "env:LAB_SIM_PASSWORD"

    again = run_sync(live_server, str(base), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Plan: 0 to create, 0 to update, 0 to delete, 18 unchanged." in again.stdout
    cirros = ready_template(live_server, "cirros")
    assert (cirros["crossZones"], cirros["ostypename"]) == (True, "Other Linux (64-bit)")

    changed = two_pod_lab()
    zone = changed["zones"][0]
    zone["pods"].pop()  # remove lab-pod-2 (and its cluster and host)
    zone["pods"][0]["clusters"][0]["hosts"].append({"name": "sim-4", "tags": ["lab"]})
    changed["service_offerings"][0]["display_text"] = "1 vCPU, 512 MiB (tiny)"
    changed["templates"][0]["display_text"] = "CirrOS 0.6"
    changed["templates"][0]["public"] = False
    edited = write(tmp_path / "changed.yaml", changed)
    code, plan = plan_json(live_server, edited)
    assert code == 2
    assert changes(plan) == [
        ("delete", "host", "lab-zone/lab-pod-2/lab-sim-2/sim-3"),
        ("delete", "cluster", "lab-zone/lab-pod-2/lab-sim-2"),
        ("delete", "pod", "lab-zone/lab-pod-2"),
        ("create", "host", "lab-zone/lab-pod/lab-sim/sim-4"),
        ("update", "service_offering", "tiny"),
        ("update", "template", "cirros"),
    ]
    offering = next(a for a in plan["actions"] if a["kind"] == "service_offering")
    assert offering["changes"] == {"displaytext": {"old": "1 vCPU, 512 MiB", "new": "1 vCPU, 512 MiB (tiny)"}}

    applied = run_sync(live_server, str(edited), "--apply", "--output", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["applied"] is True
    code, plan = plan_json(live_server, edited)
    assert (code, changes(plan)) == (0, [])
    assert [p["name"] for p in live_server.api.listPods()["pod"]] == ["lab-pod"]
    tiny = live_server.api.listServiceOfferings(name="tiny")["serviceoffering"][0]
    assert tiny["displaytext"] == "1 vCPU, 512 MiB (tiny)"
    (cirros,) = live_server.api.listTemplates(templatefilter="self", name="cirros")["template"]
    assert (cirros["displaytext"], cirros["ispublic"]) == ("CirrOS 0.6", False)


def test_a_failing_call_exits_3_naming_the_object_and_the_server_error(live_server: LiveServer, tmp_path: Path) -> None:
    document: dict[str, Any] = yaml.safe_load(LAB.read_text())
    hosts = document["zones"][0]["pods"][0]["clusters"][0]["hosts"]
    hosts.append({"name": "sim-9", "url": "http://sim/lab-sim/sim-1"})  # the URL of sim-1: addHost refuses it
    done = run_sync(live_server, str(write(tmp_path / "dup.yaml", document)), "--apply")
    assert done.returncode == 3
    assert "create host lab-zone/lab-pod/lab-sim/sim-9 failed (error 431)" in done.stderr
    assert "http://sim/lab-sim/sim-1" in done.stderr


def simulator_variant() -> dict[str, Any]:
    """The multi-region example with every cluster on the simulator (no vCenter, no XenServer pool master)."""
    document: dict[str, Any] = yaml.safe_load(MULTI.read_text())
    for zone in document["zones"]:
        for cluster in (cluster for pod in zone["pods"] for cluster in pod["clusters"]):
            cluster["hypervisor"] = "simulator"
            cluster.pop("vcenter", None)
            cluster.pop("pool_master", None)
        for pool in zone["primary_storage"]:
            if "hypervisor" in pool:
                pool["hypervisor"] = "simulator"
    for template in document["templates"]:
        template["hypervisor"] = "simulator"
    return document


def test_multi_region_plans_and_its_simulator_variant_applies(live_server: LiveServer, tmp_path: Path) -> None:
    # The real hypervisors cannot be reached here: the example itself is only planned.
    code, plan = plan_json(live_server, MULTI)
    assert code == 2
    # 55 infrastructure objects, 4 templates, an ISO, a network offering and a shared network
    assert plan["summary"] == {"create": 62, "update": 0, "delete": 0, "unchanged": 0}
    done = run_sync(live_server, str(MULTI), "--region", "west", "--output", "json")
    assert done.returncode == 0, done.stderr
    kinds = {"service_offering", "disk_offering", "network_offering", "template", "iso"}  # global objects
    zones = {a["key"][0] for a in json.loads(done.stdout)["actions"] if a["kind"] not in kinds}
    assert zones == {"west-1"}

    variant = write(tmp_path / "multi-sim.yaml", simulator_variant())
    applied = run_sync(live_server, str(variant), "--apply")
    assert applied.returncode == 0, applied.stderr
    hosts = live_server.api.listHosts(type="Routing")["host"]
    assert len(hosts) == 12 and {h["state"] for h in hosts} == {"Up"}
    pools = {p["name"]: p for p in live_server.api.listStoragePools()["storagepool"]}
    assert pools["east-1-xen-iscsi"]["scope"] == "CLUSTER" and pools["east-1-xen-iscsi"]["type"] == "IscsiLUN"
    assert float(pools["east-1-kvm-nfs"]["overprovisionfactor"]) == 2.0
    code, plan = plan_json(live_server, variant)
    assert (code, changes(plan)) == (0, [])
    templates = live_server.api.listTemplates(templatefilter="self")["template"]
    assert {(t["name"], t["zonename"]) for t in templates if t["name"] == "debian-12-kvm"} == {
        ("debian-12-kvm", "east-1"),
        ("debian-12-kvm", "west-1"),
    }
    (shared,) = live_server.api.listNetworks(name="east-1-shared")["network"]
    assert (shared["type"], shared["vlan"], shared["networkofferingname"]) == ("Shared", "300", "shared-with-dhcp")
    isos = live_server.api.listIsos(isofilter="self")["iso"]
    assert {i["name"] for i in isos} == {"virtio-win"} and all(i["crossZones"] and not i["bootable"] for i in isos)
