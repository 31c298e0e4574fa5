"""What reaches ansible-runner: secrets only through its inputs, mitogen only when it can run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner.ansible.runner import (
    AccelerateError,
    RunnerError,
    RunOptions,
    RunSecrets,
    mitogen_environment,
    run_project,
    secrets_for,
)
from provisioner.config import load_topology
from tests.support.server import REPO_ROOT
from tests.support.tools import require_tool

VAULT_PASSWORD = "planted-vault-pa55word-0c4"
VAULTED = "planted-vaulted-value-77a"


def _lab(tmp_path: Path, ansible: dict[str, object]) -> Path:
    document = yaml.safe_load((REPO_ROOT / "examples" / "lab.yaml").read_text())
    document["ansible"] = {**document["ansible"], **ansible}
    document["zones"][0]["pods"][0]["clusters"][0]["hosts"][0]["credentials"] = {"env": "LAB_HOST_SECRET"}
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_secrets_for_reads_env_key_and_vault_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----")
    (tmp_path / "vault.pw").write_text(VAULT_PASSWORD + "\n")
    cloud = load_topology(
        _lab(tmp_path, {"ssh_private_key": {"env": "LAB_KEY"}, "vault_password": {"file": str(tmp_path / "vault.pw")}})
    )
    secrets = secrets_for(cloud)
    assert secrets.ssh_key is not None and secrets.ssh_key.endswith("-----\n")  # ssh-add needs the final newline
    assert secrets.vault_password == VAULT_PASSWORD
    assert secrets.secret_env == frozenset({"LAB_KEY", "LAB_HOST_SECRET"})
    assert VAULT_PASSWORD not in repr(secrets) and "abc" not in repr(secrets)


def test_secrets_for_explains_a_missing_variable_and_a_vault_key(tmp_path: Path) -> None:
    cloud = load_topology(_lab(tmp_path, {"ssh_private_key": {"env": "LAB_KEY_NOT_SET_ANYWHERE"}}))
    with pytest.raises(RunnerError, match=r"ansible.ssh_private_key: environment variable LAB_KEY_NOT_SET_ANYWHERE"):
        secrets_for(cloud)
    cloud = load_topology(_lab(tmp_path, {"vault_password": {"vault": "vault_pw"}}))
    with pytest.raises(RunnerError, match="a vault reference cannot be read before Ansible runs"):
        secrets_for(cloud)


def test_a_key_file_stays_a_file(tmp_path: Path) -> None:
    cloud = load_topology(_lab(tmp_path, {"ssh_private_key": {"file": "/etc/provisioner/id_ed25519"}}))
    assert secrets_for(cloud).ssh_key is None  # the inventory names the file (ansible_ssh_private_key_file)


def test_accelerate_without_mitogen_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ansible_mitogen", None)  # an import of it now fails
    with pytest.raises(AccelerateError, match=r"--accelerate needs mitogen: pip install"):
        mitogen_environment()


def test_vault_password_answers_the_prompt_and_stays_out_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = require_tool("ansible-vault")
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"h1": local}}}))
    # Encrypt with a password file the test owns; bootstrap itself never writes one.
    password_file = tmp_path / "pw"
    password_file.write_text(VAULT_PASSWORD)
    (project / "secret.yml").write_text(f"vaulted: {VAULTED}\n")
    subprocess.run(
        [vault, "encrypt", "--vault-password-file", str(password_file), str(project / "secret.yml")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    password_file.unlink()
    digest = hashlib.sha1(VAULTED.encode()).hexdigest()  # the playbook must not hold the value itself
    play = {
        "name": "Read a vaulted variable",
        "hosts": "all",
        "gather_facts": False,
        "vars_files": ["secret.yml"],
        "tasks": [{"name": "Check it", "ansible.builtin.assert": {"that": [f"vaulted | hash('sha1') == '{digest}'"]}}],
    }
    (project / "site.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    result = run_project(project, RunOptions(), RunSecrets(vault_password=VAULT_PASSWORD))
    assert result.ok, result.stdout_path.read_text()
    assert "--ask-vault-pass" in result.command
    assert "--ask-vault-pass" in json.loads((result.artifact_dir / "command").read_text())["command"]
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert VAULT_PASSWORD not in text and VAULTED not in text, path
