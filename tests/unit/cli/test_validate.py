"""The ``provisioner validate`` command, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from provisioner import __version__
from provisioner.cli.main import main

VALID = textwrap.dedent(
    """\
    name: lab
    regions:
      - name: local
        management_servers:
          - {name: ms1, ip: 127.0.0.1}
    zones:
      - name: zone1
        region: local
        dns: [198.18.0.1]
        internal_dns: [198.18.0.1]
        physical_networks:
          - name: phys1
            traffic:
              - {type: management, kvm_label: cloudbr0}
              - {type: guest, kvm_label: cloudbr1}
              - {type: public, kvm_label: cloudbr0}
        pods:
          - name: pod1
            gateway: 198.18.0.1
            netmask: 255.255.255.0
            start_ip: 198.18.0.100
            end_ip: 198.18.0.150
            clusters:
              - name: cluster1
                hypervisor: kvm
                hosts:
                  - {name: kvm1, ip: 198.18.0.11}
                  - {name: kvm2, ip: 198.18.0.12}
        image_stores:
          - {name: images1, server: 127.0.0.1, path: /srv/images}
    """
)


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "cloud.yaml"
    path.write_text(VALID)
    return path


def test_valid_file_exits_zero_with_a_summary(valid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(valid_file)]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out
    assert "hosts" in out and "kvm 2" in out


def test_json_summary_counts_what_the_file_describes(valid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(valid_file), "--output", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is True
    summary = result["summary"]
    assert (summary["regions"], summary["zones"], summary["pods"], summary["clusters"]) == (1, 1, 1, 1)
    assert summary["hosts_by_hypervisor"] == {"kvm": 2}
    assert summary["image_stores"] == 1


def test_invalid_file_exits_one_and_names_file_line_and_path(
    valid_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    valid_file.write_text(VALID.replace("198.18.0.12}", "10.1.2.300}"))
    assert main(["validate", str(valid_file)]) == 1
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(VALID.splitlines(), 1) if "kvm2" in text)
    assert f"{valid_file}:{line}:" in err
    assert "zones[0].pods[0].clusters[0].hosts[1].ip: 10.1.2.300 is not an IPv4 address" in err


def test_invalid_file_as_json_lists_problems(valid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    valid_file.write_text(VALID.replace("hypervisor: kvm", "hypervisor: kvmm"))
    assert main(["validate", str(valid_file), "--output", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert [p["path"] for p in result["problems"]] == ["zones[0].pods[0].clusters[0].hypervisor"]


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: cannot read the topology" in capsys.readouterr().err


def test_console_script_version_and_help() -> None:
    exe = Path(sys.executable).parent / "provisioner"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"provisioner {__version__}"
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "validate" in helptext
    usage = subprocess.run([exe, "validate"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2


def test_cli_data_dir_variable_matches_the_database_layer() -> None:
    from provisioner.cli import server
    from provisioner.db import engine

    assert server.DATA_DIR_ENV == engine.DATA_DIR_ENV


def test_help_does_not_import_the_server_stack() -> None:
    heavy = "('sqlalchemy', 'alembic', 'httpx')"
    code = f"import sys, provisioner.cli.main; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
