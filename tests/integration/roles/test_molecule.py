"""Each role's molecule scenario converges, converges again without a change, and passes its verify."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.roles.support import REPO, ROLES, WHEELHOUSE, run, tail, tool_environment
from tests.support.tools import missing, require_tool

pytestmark = pytest.mark.integration

#: Secrets the scenarios hand to their roles (through the controller's environment): never in the output.
SECRETS = ("molecule-chap-s3cret", "molecule-db-s3cret")

#: (role, whether its scenario runs podman containers). Storage roles run their daemons (ganesha, tgtd);
#: template_seed runs on the controller, as it does for a real cloud.
SCENARIOS = [
    ("nfs_server", True),
    ("iscsi_target", True),
    ("iscsi_initiator", True),
    ("image_store", True),
    ("kvm_host", True),
    ("management_server", True),
    ("template_seed", False),
]


def _marks(podman: bool) -> list[pytest.MarkDecorator]:
    return [pytest.mark.e2e] if podman else []


@pytest.mark.timeout(1200)
@pytest.mark.parametrize(
    "role",
    [pytest.param(role, marks=_marks(podman), id=role) for role, podman in SCENARIOS],
)
def test_default_scenario(role: str, tmp_path: Path) -> None:
    if dict(SCENARIOS)[role]:
        require_tool("podman")
    if role == "management_server" and not any(WHEELHOUSE.glob("provisioner-*.whl")):
        missing(f"no provisioner wheel in {WHEELHOUSE}: run `make .stamps/wheelhouse`")
    scenario = ROLES / role / "molecule" / "default"
    assert (scenario / "molecule.yml").is_file(), f"{role} has no molecule/default scenario"
    env = tool_environment(tmp_path / "ansible-home")
    status, output = run("molecule", ["test", "--scenario-name", "default"], cwd=ROLES / role, env=env, timeout=900)
    assert status == 0, f"molecule test of {role} failed:\n{tail(output)}"
    _check(role, output)


def _check(name: str, output: str) -> None:
    # The idempotence step really ran (a scenario could drop it from its sequence) and found no change.
    assert re.search(r"idempotence\S*\s*:?\s*Executed: Successful", output), tail(output)
    assert re.search(r"verify\S*\s*:?\s*Executed: Successful", output), tail(output)
    for secret in SECRETS:
        assert secret not in output, f"a secret of the {name} scenario reached the output"


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_storage_server_scenario(tmp_path: Path) -> None:
    """nfs_server (ganesha), iscsi_target (tgt) and image_store together, on molecule's podman driver."""
    require_tool("podman")
    env = tool_environment(tmp_path / "ansible-home")
    # The podman driver expects the image to exist (no registry is reachable): build it first, once.
    status, output = run(str(REPO / "scripts" / "build-podman-image.sh"), [], cwd=REPO, env=env, timeout=900)
    assert status == 0, f"building the podman image failed:\n{tail(output)}"
    status, output = run("molecule", ["test", "--scenario-name", "storage-server"], cwd=REPO, env=env, timeout=900)
    assert status == 0, f"molecule test -s storage-server failed:\n{tail(output)}"
    _check("storage-server", output)
