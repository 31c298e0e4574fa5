"""Shared test configuration. Area fixtures live in tests/support/ and the area's own conftest.

Under pytest-xdist (``make test`` runs ``-n`` workers with ``--dist loadgroup``) every test belongs to a
unit that one worker runs whole, so module- or session-scoped fixtures start once:

* a module whose tests share a module-scoped fixture is a unit (its servers start once); other tests
  are units of their own;
* a directory whose conftest holds a session-scoped fixture that starts something is a unit
  (:data:`DIRECTORY_GROUPS`);
* the tests on machine-wide daemons run in one unit per kind (:data:`DAEMON_GROUPS`): tests on the
  shared libvirtd look at every domain it runs (``poll_states``), so no other test's guest may run
  beside them (a test that also serves NFS belongs there); only one NFS server can hold port 2049, so the
  NFS tests form a unit, and that unit takes turns with the libvirt tests that serve NFS through the file
  lock of tests/support/nfs.py; the namespace hosts' /24s are picked without a lock.

Units start longest first (:data:`HEAVY_FIRST`), so the last one to finish is a short one.

pytest 9 keeps a node's id apart from the ``_nodeid`` that xdist's own ``loadgroup`` rewrites, so the
groups travel another way: each worker writes ``{nodeid: group}`` to a directory the controller made
(:data:`GROUPS_ENV`), and the controller's scheduler (:class:`UnitScheduling`) reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest_plugins: list[str] = ["tests.support.postgres", "tests.support.server"]

#: Fixture name → group: tests using any of these daemons run on one worker, in this order of precedence.
#: The libvirt unit holds the real guests, the longest chain of the run: the NFS-only tests used to share it and
#: lengthen it, though the NFS file lock alone keeps them apart.
DAEMON_GROUPS = (("libvirtd", "daemon-libvirt"), ("nfs_server", "daemon-nfs"), ("net_hosts", "daemon-nethosts"))
#: Directories whose conftest starts a session-scoped server: their tests form one unit.
DIRECTORY_GROUPS = ("tests/integration/terraform/",)
#: Path prefixes (or group names) in the order their units should start; the rest follow in collection order.
HEAVY_FIRST = (
    "tests/integration/roles/test_molecule.py",
    "tests/integration/roles/test_lint.py",
    "daemon-libvirt",
    "daemon-nfs",
    "daemon-nethosts",
    "tests/e2e/",
    "tests/integration/terraform/",
    "tests/integration/",
)


def _shares_fixtures(item: pytest.Item) -> bool:
    """True when the test uses a fixture that lives longer than one test but shorter than the session."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True
    return any(
        definition.scope in ("module", "package", "class")
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def _group(item: pytest.Item) -> str | None:
    """The unit a test runs in: a daemon's, a directory's or its module's; None when it can run anywhere."""
    names = set(getattr(item, "fixturenames", ()))
    for fixture, group in DAEMON_GROUPS:
        if fixture in names:
            return group
    path = item.nodeid.split("::", 1)[0]
    for directory in DIRECTORY_GROUPS:
        if path.startswith(directory):
            return directory
    return path if _shares_fixtures(item) else None


def _rank(group: str) -> int:
    for index, prefix in enumerate(HEAVY_FIRST):
        if group.startswith(prefix):
            return index
    return len(HEAVY_FIRST)


#: Environment variable naming the directory where workers leave their ``{nodeid: group}`` maps.
GROUPS_ENV = "PROVISIONER_TEST_GROUPS_DIR"


def _distributing(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") == "loadgroup" and "PYTEST_XDIST_WORKER" not in os.environ


def pytest_configure(config: pytest.Config) -> None:
    """With xdist: the scheduler hook; on the controller, a directory for the workers' group maps
    (workers inherit the variable)."""
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistUnits(), "provisioner-xdist-units")
    if _distributing(config):
        os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix="provisioner-test-groups-")


def pytest_unconfigure(config: pytest.Config) -> None:
    """On the xdist controller: remove the group maps."""
    if _distributing(config) and GROUPS_ENV in os.environ:
        shutil.rmtree(os.environ.pop(GROUPS_ENV), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: order the units longest first and tell the controller each test's unit."""
    # On a worker ``dist`` reads "no"; ``loadgroup`` is what xdist's worker setup left.
    directory = os.environ.get(GROUPS_ENV)
    if not getattr(config.option, "loadgroup", False) or directory is None:
        return
    groups = {item.nodeid: _group(item) for item in items}
    # A stable sort: the tests of one module stay together and in their order.
    items.sort(key=lambda item: _rank(groups[item.nodeid] or item.nodeid))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    partial = Path(directory) / f".{worker}.json"
    partial.write_text(json.dumps({nodeid: group for nodeid, group in groups.items() if group is not None}))
    partial.rename(Path(directory) / f"{worker}.json")


class XdistUnits:
    """The xdist hook, registered only when xdist is loaded (a conftest hook xdist does not define would be
    an error under ``-p no:xdist`` or without xdist installed)."""

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """With ``--dist loadgroup``: schedule by the units the workers reported."""
        if getattr(config.option, "dist", "no") != "loadgroup":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class UnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
            """xdist's scope scheduling, with a test's scope being its unit (or the test alone)."""

            groups: dict[str, str] | None = None

            def _split_scope(self, nodeid: str) -> str:
                if self.groups is None:
                    directory = Path(os.environ[GROUPS_ENV])
                    reported = sorted(directory.glob("*.json"))
                    self.groups = json.loads(reported[0].read_text()) if reported else {}
                return self.groups.get(nodeid, nodeid)

        return UnitScheduling(config, log)
