"""VM operations through a live server on the simulator, with ``cs``: migrate, scale, change offering,
host and storage maintenance, and the host health round's fields."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.integration.infrastructure.support import build_zone, wait_hosts_up
from tests.support.server import LiveServer

#: Bound of the wait for a registered template to be Ready in a simulated zone (at once, normally).
READY_TIMEOUT = 30.0


def wait_ready(api: CloudStack, template_id: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        rows = api.listTemplates(id=template_id, templatefilter="all").get("template", [])
        if rows and all(row["isready"] for row in rows):
            return
        assert time.monotonic() < deadline, f"template not ready: {rows}"
        time.sleep(0.2)


@pytest.fixture
def cloud(live_server: LiveServer) -> dict[str, Any]:
    """The canonical simulated zone with three hosts, two offerings, a Ready template and a Running VM."""
    api = live_server.api
    built = build_zone(api, api)
    for index in (1, 2):
        api.addHost(
            url=f"http://sim/z1-c0/h{index}",
            hypervisor="Simulator",
            podid=built.pod,
            zoneid=built.zone,
            clusterid=built.cluster,
            username="root",
            password="password",
        )
    hosts = wait_hosts_up(api, built.cluster, 3)
    small = api.createServiceOffering(name="small", displaytext="small", cpunumber=1, cpuspeed=500, memory=512)
    big = api.createServiceOffering(name="big", displaytext="big", cpunumber=2, cpuspeed=500, memory=1024)
    template = api.registerTemplate(
        name="tiny",
        displaytext="tiny",
        url="http://198.18.0.9/tiny.qcow2",
        format="QCOW2",
        hypervisor="Simulator",
        zoneid=built.zone,
        ostypeid=api.listOsTypes()["ostype"][0]["id"],
    )["template"][0]
    wait_ready(api, template["id"])
    vm = api.deployVirtualMachine(
        zoneid=built.zone,
        serviceofferingid=small["serviceoffering"]["id"],
        templateid=template["id"],
        name="vm1",
    )["virtualmachine"]
    assert vm["state"] == "Running"
    return {
        "zone": built,
        "hosts": {h["name"]: h["id"] for h in hosts},
        "small": small["serviceoffering"]["id"],
        "big": big["serviceoffering"]["id"],
        "vm": vm,
    }


def test_migrate_scale_change_offering_and_maintenance(live_server: LiveServer, cloud: dict[str, Any]) -> None:
    api = live_server.api
    vm, hosts = cloud["vm"], cloud["hosts"]
    source = vm["hostid"]
    target = next(h for h in hosts.values() if h != source)

    moved = api.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=target)["virtualmachine"]
    assert (moved["state"], moved["hostid"]) == ("Running", target)
    auto = api.migrateVirtualMachine(virtualmachineid=vm["id"])["virtualmachine"]
    assert auto["hostid"] not in (target, None)
    with pytest.raises(CloudStackApiException) as same:
        api.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=auto["hostid"])
    assert "same as current host" in str(same.value)

    # CloudStack's default: no live scaling until the admin enables it (531 naming the setting to change).
    with pytest.raises(CloudStackApiException) as disabled:
        api.scaleVirtualMachine(id=vm["id"], serviceofferingid=cloud["big"])
    assert disabled.value.error["errorcode"] == 531
    assert "set enable.dynamic.scale.vm to true" in disabled.value.error["errortext"]
    api.updateConfiguration(name="enable.dynamic.scale.vm", value="true")
    try:  # live scaling needs a VM defined with room to grow (the lifecycle decides maxima)
        assert api.scaleVirtualMachine(id=vm["id"], serviceofferingid=cloud["big"])["success"] is True
        grown = True
    except CloudStackApiException as refused:
        assert refused.error["errorcode"] == 431
        assert "not configured to be dynamically scalable" in refused.error["errortext"]
        grown = False
    scaled = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert scaled["state"] == "Running"
    assert scaled["serviceofferingid"] == cloud["big" if grown else "small"]

    with pytest.raises(CloudStackApiException) as running:
        api.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=cloud["small" if grown else "big"])
    assert running.value.error["errorcode"] == 431
    api.stopVirtualMachine(id=vm["id"])
    if not grown:  # a stopped VM scales to any offering
        assert api.scaleVirtualMachine(id=vm["id"], serviceofferingid=cloud["big"])["success"] is True
        scaled = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
        assert (scaled["serviceofferingid"], scaled["cpunumber"], scaled["memory"]) == (cloud["big"], 2, 1024)
    changed = api.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=cloud["small"])["virtualmachine"]
    assert (changed["state"], changed["cpunumber"], changed["memory"]) == ("Stopped", 1, 512)
    started = api.startVirtualMachine(id=vm["id"])["virtualmachine"]

    evacuated = api.prepareHostForMaintenance(id=started["hostid"])["host"]
    assert evacuated["resourcestate"] == "Maintenance"
    after = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert after["state"] == "Running" and after["hostid"] != started["hostid"]
    assert api.cancelHostMaintenance(id=started["hostid"])["host"]["resourcestate"] == "Enabled"

    pool = api.enableStorageMaintenance(id=cloud["zone"].pool)
    assert next(iter(pool.values()))["state"] == "Maintenance"
    assert api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Stopped"
    api.cancelStorageMaintenance(id=cloud["zone"].pool)


def test_the_health_round_pings_hosts(live_server: LiveServer, cloud: dict[str, Any]) -> None:
    api = live_server.api
    api.updateConfiguration(name="ping.interval", value="0.2")
    # The change cuts short the wait under way with the old interval (60 s): the hosts are pinged well before it.
    deadline = time.monotonic() + 30
    before = {h["id"]: h.get("lastpinged") for h in api.listHosts(type="Routing")["host"]}
    while time.monotonic() < deadline:
        now = {h["id"]: h.get("lastpinged") for h in api.listHosts(type="Routing")["host"]}
        if all(now[h] and now[h] != before[h] for h in before):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"hosts not pinged again: {before} -> {now}")
    assert {h["state"] for h in api.listHosts(type="Routing")["host"]} == {"Up"}
