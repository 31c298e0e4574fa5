"""Child for the kill -9 test: commit one VM in Starting with a job it owns, then hang mid-allocation.

``python -m tests.integration.services.compute.crash_child <db_url> <json base> <msid> <marker>``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy import insert

from provisioner.db.engine import create_engine_for
from provisioner.db.schema import async_job
from provisioner.services.compute.allocator import PlannerSettings
from provisioner.services.compute.vms import allocate_vm
from tests.integration.services.compute.storm import spec_for

SETTINGS = PlannerSettings(algorithm="firstfit")


def main(argv: list[str]) -> int:
    """Run the two steps; the parent kills this process while the second one is open."""
    url, base, msid, marker = argv[1], json.loads(argv[2]), int(argv[3]), Path(argv[4])
    job_user_id = base.pop("job_user_id")
    engine = create_engine_for(url)
    with engine.begin() as conn:
        vm = allocate_vm(conn, spec_for(base, "committed"), settings=SETTINGS)
        conn.execute(
            insert(async_job).values(
                user_id=job_user_id,
                account_id=base["account_id"],
                domain_id=base["domain_id"],
                cmd="deployVirtualMachine",
                params={},
                instance_type="VirtualMachine",
                instance_id=vm.uuid,
                owner_msid=msid,
            )
        )
    with engine.begin() as conn:
        allocate_vm(conn, spec_for(base, "in-flight"), settings=SETTINGS)
        marker.write_text("reserved")
        time.sleep(120)  # killed here, before the commit
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
