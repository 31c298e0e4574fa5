"""Fire many deployments at once (threads behind a barrier) and report each outcome.

Used in-process by the tests and, for several processes on PostgreSQL, by ``python -m`` as a child:
``python -m tests.integration.services.compute.storm <db_url> <json settings> <go file>`` prints one
JSON outcome per line once the go file appears.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from provisioner.db.engine import create_engine_for, run_in_transaction
from provisioner.exceptions import InsufficientCapacityError
from provisioner.services.compute.allocator import PlannerSettings
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm


def spec_for(base: dict[str, Any], name: str) -> VmSpec:
    """A VM spec from the shared ``base`` (ids, offering, ``network_id``) and a name."""
    fields = {key: value for key, value in base.items() if key != "network_id"}
    return VmSpec(name=name, nics=(NicRequest(base["network_id"]),), **fields)


def storm(engine: Engine, base: dict[str, Any], names: list[str], algorithm: str) -> list[dict[str, Any]]:
    """Deploy one VM per name, all threads released together; outcome per VM: placed, 533 or error."""
    barrier = threading.Barrier(len(names), timeout=60)
    settings = PlannerSettings(algorithm=algorithm)

    def one(name: str) -> dict[str, Any]:
        spec = VmSpec(
            name=name, nics=(NicRequest(base["network_id"]),), **{k: v for k, v in base.items() if k != "network_id"}
        )
        barrier.wait()
        try:
            vm = run_in_transaction(engine, lambda conn: allocate_vm(conn, spec, settings=settings), attempts=10)
        except InsufficientCapacityError as exc:
            return {"name": name, "outcome": 533, "text": exc.errortext}
        except Exception as exc:  # reported, and failed on, by the test
            return {"name": name, "outcome": "error", "text": f"{type(exc).__name__}: {exc}"}
        assert vm.placement is not None
        return {
            "name": name,
            "outcome": "placed",
            "host": vm.placement.host_id,
            "ip": vm.nics[0][0],
            "mac": vm.nics[0][1],
        }

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(one, names))


def main(argv: list[str]) -> int:
    """Child entry point: wait for the go file (bounded), storm, print outcomes as JSON lines."""
    url, raw, go = argv[1], json.loads(argv[2]), Path(argv[3])
    engine = create_engine_for(url, pool_size=raw["threads"])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        names = [f"{raw['prefix']}-{i}" for i in range(raw["threads"])]
        for outcome in storm(engine, raw["base"], names, raw["algorithm"]):
            print(json.dumps(outcome), flush=True)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
