"""A management server's job pool in a child process, for the kill -9 test.

Usage: ``python -m tests.integration.services.job_child URL MSID MARKER``. Its executor moves the
test VM to ``Starting``, touches ``MARKER`` and then hangs (at most two minutes) until killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import text

from provisioner.db.engine import create_engine_for
from provisioner.services.jobs import JobWorkerPool, PoolSettings, RunningJob

SETTINGS = PoolSettings(workers=1, poll_interval=0.05, heartbeat_interval=0.1, dead_after=1.0, lease_seconds=1.0)


def main(argv: list[str]) -> int:
    """Run the pool until killed."""
    url, msid, marker = argv[0], int(argv[1]), Path(argv[2])
    engine = create_engine_for(url)

    def start_vm(job: RunningJob) -> object:
        with engine.begin() as conn:
            conn.execute(text("UPDATE test_vm SET state = 'Starting' WHERE uuid = :id"), {"id": job.instance_id})
        marker.write_text(job.id)
        time.sleep(120)
        return {"virtualmachine": {"id": job.instance_id, "state": "Running"}}

    pool = JobWorkerPool(engine, start_vm, msid=msid, settings=SETTINGS, reconcilers={})
    pool.start()
    time.sleep(120)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
