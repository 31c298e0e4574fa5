"""100 deployments at once through the API against a nearly full cluster: no over-commit, no address twice."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.compute_api.support import held_memory, host_usage, submit_deploys, wait_jobs
from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

GIB = 1 << 30


def test_hundred_deploys_at_once_end_running_or_533(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)  # two simulated hosts of 8 GiB
    offering = api.createServiceOffering(name="gib", displaytext="gib", cpunumber=1, cpuspeed=100, memory=1024)
    base = {"zoneid": cloud.zone, "serviceofferingid": offering["serviceoffering"]["id"], "templateid": cloud.template}
    submitter = live_server.client(live_server.apikey, live_server.secretkey, fetch_result=False)
    jobs = wait_jobs(submitter, submit_deploys(submitter, base, [f"storm-{i}" for i in range(100)]))

    outcomes = Counter(job["jobresultcode"] if job["jobstatus"] == 2 else "Running" for job in jobs.values())
    running = [j["jobresult"]["virtualmachine"] for j in jobs.values() if j["jobstatus"] == 1]
    assert all(vm["state"] == "Running" for vm in running)
    assert set(outcomes) <= {"Running", 533}, outcomes
    fitted = outcomes["Running"]
    # Two hosts of 8 GiB, one GiB each, the cluster closed past 0.85 of its memory: 13 to 16 fit.
    assert 13 <= fitted <= 16, outcomes
    addresses = [vm["nic"][0]["ipaddress"] for vm in running]
    macs = [vm["nic"][0]["macaddress"] for vm in running]
    assert len(set(addresses)) == len(addresses) and len(set(macs)) == len(macs)
    usage = host_usage(api)
    assert all(allocated <= total for allocated, total in usage.values()), usage
    held = held_memory(api)
    assert {h: allocated for h, (allocated, _) in usage.items()} == {h: held.get(h, 0) for h in usage}
    assert sum(held.values()) == fitted * GIB
    listed = api.listVirtualMachines(listall=True)
    assert listed["count"] == fitted, "the 533 deployments must leave nothing behind"
    # Nothing was left free by the races: one more deployment, alone, finds no room either.
    (late,) = wait_jobs(submitter, submit_deploys(submitter, base, ["late"])).values()
    assert (late["jobstatus"], late["jobresultcode"]) == (2, 533), late
