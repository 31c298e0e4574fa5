"""``provisioner inventory`` and ``provisioner render`` on the example lab, as a user runs them."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest
import yaml

from provisioner.cli.main import main

LAB = Path(__file__).parents[3] / "examples" / "lab.yaml"


def test_inventory_json_is_the_ansible_list_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", str(LAB), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    hosts = set(data["_meta"]["hostvars"])
    assert hosts, "the lab has hosts"
    assert "simulator_hosts" in data and "management_servers" in data
    assert set(data["simulator_hosts"]["hosts"]) <= hosts


def test_inventory_limit_keeps_only_matching_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", str(LAB), "--format", "json", "--limit", "management_servers"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["_meta"]["hostvars"]) == set(data["management_servers"]["hosts"])


def test_inventory_yaml_and_ini_are_stable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", str(LAB)]) == 0
    first = capsys.readouterr().out
    assert main(["inventory", str(LAB)]) == 0
    assert capsys.readouterr().out == first
    assert "all" in yaml.safe_load(first)
    assert main(["inventory", str(LAB), "--format", "ini"]) == 0
    parser = configparser.ConfigParser(allow_no_value=True, delimiters=(" ",), strict=False)
    parser.read_string(capsys.readouterr().out)
    assert "management_servers" in parser.sections()


def test_bad_limit_pattern_is_an_error_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inventory", str(LAB), "--limit", "~("])
    assert code in (1, 3)
    assert "(" in capsys.readouterr().err


def test_render_writes_a_project_then_reports_it_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "project"
    assert main(["render", str(LAB), "-o", str(out), "--output", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert "site.yml" in first["changed"] and "ansible.cfg" in first["changed"]
    assert (out / "inventory" / "hosts.yml").is_file()
    assert main(["render", str(LAB), "-o", str(out), "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == []


def test_render_refuses_limit_with_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["render", str(LAB), "-o", str(tmp_path), "--plugin", "--limit", "all"])
    assert code == 2
    assert "--plugin" in capsys.readouterr().err
