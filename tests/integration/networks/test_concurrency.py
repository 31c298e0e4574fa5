"""Concurrent NIC jobs on a live server (SQLite and PostgreSQL): addNicToVirtualMachine for many VMs at once into
a small network, then updateVmNicIp from many NICs racing for one address. No address is ever handed out twice."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

#: Bound of the wait for the submitted jobs.
JOBS_TIMEOUT = 120.0


def _wait(api: Any, jobids: list[str]) -> list[dict[str, Any]]:
    """Poll (bounded) until every job is done; return their final answers in order."""
    deadline = time.monotonic() + JOBS_TIMEOUT
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(jobids):
        for jobid in jobids:
            if jobid not in done:
                answer = api.queryAsyncJobResult(jobid=jobid)
                if answer["jobstatus"] != 0:
                    done[jobid] = answer
        assert time.monotonic() < deadline, f"jobs still running after {JOBS_TIMEOUT} s"
        time.sleep(0.2)
    return [done[jobid] for jobid in jobids]


def test_concurrent_nic_jobs_never_share_an_address(live_server: LiveServer) -> None:
    cloud = simulated_cloud(live_server)
    api = live_server.api
    submit = live_server.client(live_server.apikey, live_server.secretkey, fetch_result=False)
    offering = api.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"]
    vms = [
        api.deployVirtualMachine(
            name=f"c{i}", zoneid=cloud.zone, serviceofferingid=cloud.offering, templateid=cloud.template, startvm=False
        )["virtualmachine"]
        for i in range(14)
    ]
    small = api.createNetwork(
        name="small",
        zoneid=cloud.zone,
        networkofferingid=offering[0]["id"],
        gateway="10.80.0.1",
        netmask="255.255.255.240",
    )["network"]  # 13 addresses for VMs once the gateway is reserved

    jobs = [submit.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=small["id"])["jobid"] for vm in vms]
    results = _wait(submit, jobs)
    codes = sorted(r["jobresult"].get("errorcode", 0) for r in results)
    assert codes == [0] * 13 + [533]
    addresses = [
        nic["ipaddress"]
        for vm in vms
        for nic in api.listNics(virtualmachineid=vm["id"], networkid=small["id"]).get("nic", [])
    ]
    assert len(addresses) == len(set(addresses)) == 13

    # Free one address, then let every NIC of the default network race for the same one: exactly one wins.
    defaults = [api.listNics(virtualmachineid=vm["id"])["nic"][0] for vm in vms[:8]]
    jobs = [submit.updateVmNicIp(nicid=nic["id"], ipaddress="10.1.1.200")["jobid"] for nic in defaults]
    codes = sorted(r["jobresult"].get("errorcode", 0) for r in _wait(submit, jobs))
    assert codes == [0] + [431] * 7
    holders = [
        nic for vm in vms for nic in api.listNics(virtualmachineid=vm["id"])["nic"] if nic["ipaddress"] == "10.1.1.200"
    ]
    assert len(holders) == 1
