"""Helpers of the VM API tests: many deployments submitted at once, their jobs polled together, capacity checks."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cs import CloudStack

#: Bound of the wait for a batch of deployment jobs to finish.
JOBS_TIMEOUT = 600.0


def submit_deploys(api: CloudStack, base: dict[str, Any], names: list[str], threads: int = 10) -> list[str]:
    """Send one ``deployVirtualMachine`` per name at once (threads); ``api`` must not wait for jobs."""

    def one(name: str) -> str:
        return str(api.deployVirtualMachine(name=name, **base)["jobid"])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, names))


def wait_jobs(api: CloudStack, jobids: list[str], timeout: float = JOBS_TIMEOUT) -> dict[str, dict[str, Any]]:
    """Poll every job (bounded) until none is pending; return each finished job's answer.

    ``api`` must not wait for jobs itself (``fetch_result=False``): ``cs`` would raise on failed ones.
    """
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(jobids):
        for jobid in jobids:
            if jobid not in done:
                answer = api.queryAsyncJobResult(jobid=jobid)
                if answer["jobstatus"] != 0:
                    done[jobid] = answer
        if len(done) < len(jobids):
            assert time.monotonic() < deadline, f"{len(jobids) - len(done)} jobs still pending after {timeout} s"
            time.sleep(0.5)
    return done


def host_usage(api: CloudStack) -> dict[str, tuple[int, int]]:
    """Per host id: (memory allocated, memory total) in bytes as listHosts shows them."""
    return {
        h["id"]: (int(h["memoryallocated"]), int(h["memorytotal"]))
        for h in api.listHosts(type="Routing").get("host", [])
    }


def held_memory(api: CloudStack) -> dict[str, int]:
    """Per host id: the memory (bytes) the VMs placed there hold, summed from listVirtualMachines."""
    held: dict[str, int] = {}
    for vm in api.listVirtualMachines(listall=True).get("virtualmachine", []):
        if vm.get("hostid") and vm["state"] in ("Starting", "Running", "Stopping", "Migrating"):
            held[vm["hostid"]] = held.get(vm["hostid"], 0) + int(vm["memory"]) * 1024 * 1024
    return held
