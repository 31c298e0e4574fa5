"""A management server's template worker in a child process, for the kill -9 test.

Usage: ``python -m tests.integration.templates.replication_child URL MSID MARKER``. Each progress
report of a copy sleeps a little (so the copy lasts seconds) and the first one touches ``MARKER``;
the parent then kills this process with SIGKILL mid-copy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from provisioner.db.engine import create_engine_for
from provisioner.services.templates import reconciler


def main(argv: list[str]) -> int:
    """Run one worker round (it is killed before it ends)."""
    url, msid, marker = argv[0], int(argv[1]), Path(argv[2])
    engine = create_engine_for(url)
    original = reconciler._Lease.progress

    def slow(self: reconciler._Lease, done: int, total: int) -> None:
        original(self, done, total)
        if not marker.exists():
            marker.write_text(str(done))
        time.sleep(0.2)

    reconciler._Lease.progress = slow  # type: ignore[method-assign]
    reconciler.reconcile(engine, msid, wait=True)
    time.sleep(120)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
