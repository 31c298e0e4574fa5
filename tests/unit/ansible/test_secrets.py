"""Secrets stay references: a planted secret value never reaches any rendered byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.ansible.facts import credential
from provisioner.ansible.render import render_project
from provisioner.ansible.serialize import FORMATS, serialize
from provisioner.model import CredentialRef
from tests.unit.ansible.cases import case_inventory, load_case, model_path

PLANTED = "planted-s3cret-value-9f1c"


def test_credential_is_a_reference_structure() -> None:
    assert credential(CredentialRef(env="X", username="root")) == {
        "kind": "env",
        "reference": "X",
        "username": "root",
        "lookup_plugin": "ansible.builtin.env",
    }
    assert credential(CredentialRef(file="/etc/pw"))["lookup_plugin"] == "ansible.builtin.file"
    assert credential(CredentialRef(vault="vault_pw")) == {
        "kind": "vault",
        "reference": "vault_pw",
        "lookup_plugin": "ansible.builtin.vars",
    }


def test_no_template_reaches_the_inventory() -> None:
    # A template would be evaluated wherever Ansible templates a structure (loops, debug, -v).
    for fmt in FORMATS:
        assert "{{" not in serialize(case_inventory("multi"), fmt)


def test_planted_secret_is_never_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("KVM_ROOT_PASSWORD", "PROVISIONER_DB_URL", "EU_CHAP_SECRET"):
        monkeypatch.setenv(variable, PLANTED)
    secret_file = tmp_path / "secret"
    secret_file.write_text(PLANTED)
    inventory = case_inventory("multi")
    for fmt in FORMATS:
        assert PLANTED not in serialize(inventory, fmt)
    out = tmp_path / "project"
    render_project(load_case("multi"), out, model_path("multi"))
    for path in out.rglob("*"):
        if path.is_file():
            assert PLANTED.encode() not in path.read_bytes(), path
