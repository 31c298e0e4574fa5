"""A rendered project runs under the real ansible-playbook (local connection: nothing leaves the machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner.ansible.render import render_project
from provisioner.config import load_topology
from tests.integration.ansible.support import assert_all_ok, run_ansible
from tests.support.tools import require_tool
from tests.unit.ansible.cases import load_case, model_path

pytestmark = pytest.mark.integration

PLANTED = "planted-s3cret-value-7d2e"
SECRET_VARIABLES = ("KVM_ROOT_PASSWORD", "PROVISIONER_DB_URL", "EU_CHAP_SECRET")


def _local_vars(tmp_path: Path, **extra: object) -> Path:
    """Extra vars that make every host the controller itself."""
    path = tmp_path / "local.yml"
    data = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_become": False,
        **extra,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def _fake_role(root: Path, name: str) -> None:
    tasks = root / name / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        f"- name: Say that the role ran\n  ansible.builtin.debug:\n    msg: fake {name} role ran\n"
    )


def test_rendered_project_runs_and_never_shows_a_secret(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    project = tmp_path / "project"
    render_project(load_case("multi"), project, model_path("multi"))
    # Stand-in roles prove the include_role slot; the repository's roles are kept out of this run.
    (project / "roles").unlink(missing_ok=True)
    roles = tmp_path / "fake-roles"
    _fake_role(roles, "kvm_host")
    env = {**ansible_env, "ANSIBLE_ROLES_PATH": str(roles), **dict.fromkeys(SECRET_VARIABLES, PLANTED)}
    output = run_ansible(
        "ansible-playbook",
        ["-i", str(project / "inventory"), str(project / "site.yml"), "-e", f"@{_local_vars(tmp_path)}"],
        env,
        cwd=tmp_path,
    )
    assert_all_ok(output, ["kvm1", "kvm2", "kvm3", "esx1", "xen1", "hv1", "nas1", "nas2", "ms-eu-1", "ms-us-1"])
    assert output.count("fake kvm_host role ran") == 3
    assert "Role nfs_server is not installed" in output
    assert PLANTED not in output


def test_preflight_rejects_a_malformed_bridge(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    project = tmp_path / "project"
    render_project(load_case("multi"), project, model_path("multi"))
    broken = tmp_path / "broken.yml"
    broken.write_text(
        yaml.safe_dump(
            {
                "kvm_host_bridges": [
                    {"name": "cloudbr0", "physical_network": "x", "nic": "eth0", "traffic": [], "vlan_ranges": []}
                ]
            }
        )
    )
    executable = require_tool("ansible-playbook")
    result = subprocess.run(
        [
            executable,
            "-i",
            str(project / "inventory"),
            str(project / "playbooks" / "hypervisors.yml"),
            "--limit",
            "kvm3",
            "-e",
            f"@{_local_vars(tmp_path, provisioner_apply_roles=False)}",
            "-e",
            f"@{broken}",
        ],
        env=ansible_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "bridge cloudbr0 is malformed" in result.stdout


def test_plugin_project_runs_from_its_directory(tmp_path: Path, ansible_env: dict[str, str]) -> None:
    project = tmp_path / "project"
    render_project(load_case("lab"), project, model_path("lab"), plugin=True)
    env = {key: value for key, value in ansible_env.items() if not key.startswith("ANSIBLE_INVENTORY")}
    env["ANSIBLE_CONFIG"] = str(project / "ansible.cfg")  # the rendered cfg enables the plugin
    local = _local_vars(tmp_path, provisioner_apply_roles=False)
    graph = run_ansible("ansible-inventory", ["--graph"], env, cwd=project)
    assert "@simulator_hosts:" in graph and "|--sim-host-1" in graph
    output = run_ansible(
        "ansible-playbook", ["-i", str(project / "inventory"), str(project / "site.yml"), "-e", f"@{local}"], env
    )
    assert_all_ok(output, ["sim-host-1", "sim-host-2", "store", "ms1"])


@pytest.mark.parametrize("source", ["static", "plugin"])
def test_credential_lookups_resolve_at_run_time_only(source: str, tmp_path: Path, ansible_env: dict[str, str]) -> None:
    # Roles read secrets through the rendered lookup; the value exists only inside the run.
    project = tmp_path / "project"
    render_project(load_case("multi"), project, model_path("multi"), plugin=source == "plugin")
    check = tmp_path / "check.yml"
    check.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Read a credential through its reference",
                    "hosts": "kvm1",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Compare the looked-up secret",
                            "ansible.builtin.assert": {
                                "that": ["lookup(cred.lookup_plugin, cred.reference) == lookup('env', 'SECRET')"],
                                "quiet": True,
                            },
                            "vars": {"cred": "{{ provisioner_host_credentials }}"},
                            "no_log": True,
                        }
                    ],
                }
            ],
            sort_keys=False,
        )
    )
    env = {**ansible_env, "KVM_ROOT_PASSWORD": PLANTED, "SECRET": PLANTED}
    output = run_ansible(
        "ansible-playbook", ["-i", str(project / "inventory"), str(check), "-e", f"@{_local_vars(tmp_path)}"], env
    )
    assert_all_ok(output, ["kvm1"])
    assert PLANTED not in output
    listed = run_ansible("ansible-inventory", ["-i", str(project / "inventory"), "--list"], env)
    assert '"reference": "KVM_ROOT_PASSWORD"' in listed
    assert PLANTED not in listed


EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_topologies_pass_the_preflight(example: Path, tmp_path: Path, ansible_env: dict[str, str]) -> None:
    project = tmp_path / "project"
    render_project(load_topology(example), project, example)
    local = _local_vars(tmp_path, provisioner_apply_roles=False)
    output = run_ansible(
        "ansible-playbook",
        ["-i", str(project / "inventory"), str(project / "site.yml"), "-e", f"@{local}"],
        ansible_env,
    )
    assert_all_ok(output)
