"""kill -9 of the server while deployments run: after a restart nothing is left transitional, capacity adds up."""

from __future__ import annotations

import time

import pytest

from tests.integration.compute_api.support import held_memory, host_usage, submit_deploys, wait_jobs
from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer, set_simulator_latency

pytestmark = pytest.mark.integration

#: VM and volume states a crash may leave behind and recovery must not.
TRANSITIONAL = {"Starting", "Stopping", "Migrating", "Expunging"}
VOLUME_TRANSITIONAL = {"Creating", "Migrating", "Resizing", "Expunging"}
#: Bound of the wait for the first deployments to finish before the kill.
FIRST_DONE_TIMEOUT = 120.0
#: Seconds each simulated host call takes.
HOST_LATENCY = 0.1


def test_kill9_during_deployments_leaves_stable_states(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    set_simulator_latency(live_server, HOST_LATENCY)  # deployments take a while, so the kill meets them at work
    # Small enough that every deployment fits: the kill must meet deployments at work, not quick capacity refusals.
    offering = api.createServiceOffering(name="tiny", displaytext="tiny", cpunumber=1, cpuspeed=10, memory=64)
    base = {"zoneid": cloud.zone, "serviceofferingid": offering["serviceoffering"]["id"], "templateid": cloud.template}
    submitter = live_server.client(live_server.apikey, live_server.secretkey, fetch_result=False)
    jobids = submit_deploys(submitter, base, [f"crash-{i}" for i in range(120)])
    deadline = time.monotonic() + FIRST_DONE_TIMEOUT
    # Kill as soon as the first deployments are through: the job workers are busy with the next ones.
    while all(submitter.queryAsyncJobResult(jobid=j)["jobstatus"] == 0 for j in jobids[:2]):
        assert time.monotonic() < deadline, "no deployment finished before the kill"
        time.sleep(0.1)
    at_kill = {job["jobid"] for job in submitter.listAsyncJobs().get("asyncjobs", []) if job["jobstatus"] == 0}
    live_server.kill9()
    live_server.restart()

    assert at_kill & set(jobids), "the kill hit no unfinished deployment; nothing was tested"
    jobs = wait_jobs(submitter, jobids)
    codes = {job["jobresultcode"] for job in jobs.values() if job["jobstatus"] == 2}
    assert codes <= {530, 533}, codes
    # A deployment the kill interrupted is resumed (its VM Running) or failed with 530, never lost.
    interrupted = [jobs[jobid] for jobid in at_kill & set(jobids)]
    assert all(job["jobstatus"] == 1 or job["jobresultcode"] == 530 for job in interrupted), interrupted
    vms = api.listVirtualMachines(listall=True).get("virtualmachine", [])
    assert not [vm["name"] for vm in vms if vm["state"] in TRANSITIONAL]
    volumes = api.listVolumes(listall=True).get("volume", [])
    assert not [v["name"] for v in volumes if v["state"] in VOLUME_TRANSITIONAL]
    usage = host_usage(api)
    held = held_memory(api)
    assert {h: allocated for h, (allocated, _) in usage.items()} == {h: held.get(h, 0) for h in usage}
