"""The filesystem-mirror install: layout, CLI configuration, export lines, and the documented lock-file hash."""

from __future__ import annotations

import subprocess
from pathlib import Path

from provisioner_terraform import VERSION
from provisioner_terraform.install import LOCK_HASH, WRAPPER, install, package_hash, terraform_platform

README = Path(__file__).resolve().parents[3] / "terraform" / "README.md"


def test_the_documented_lock_hash_is_the_installed_package_hash(tmp_path: Path) -> None:
    first = install(tmp_path / "a", python="/opt/venv-a/bin/python")
    second = install(tmp_path / "b", python="/somewhere/else/python3")
    # The wrapper names no interpreter: every install on every machine has the same hash.
    assert first.lock_hash == second.lock_hash == LOCK_HASH
    assert LOCK_HASH in README.read_text()
    assert first.executable.read_text() == WRAPPER
    assert first.executable.stat().st_mode & 0o777 == 0o755
    assert first.executable.parent == (
        first.mirror / "registry.terraform.io" / "provisioner" / "provisioner" / VERSION / terraform_platform()
    )


def test_package_hash_is_go_dirhash_hash1(tmp_path: Path) -> None:
    # dirhash.Hash1 of one file "hello" holding "hello\n" (a value Go's tests also derive).
    (tmp_path / "hello").write_text("hello\n")
    summary = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  hello\n"
    import base64
    import hashlib

    assert package_hash(tmp_path) == "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def test_cli_config_takes_only_our_namespace_from_the_mirror(tmp_path: Path) -> None:
    installation = install(tmp_path / "with space")
    text = installation.cli_config.read_text()
    assert f'path    = "{installation.mirror}"' in text
    assert text.count('"registry.terraform.io/provisioner/*"') == 2
    assert "direct {" in text
    shell = subprocess.run(
        ["sh", "-c", "\n".join(installation.exports()) + '\nprintf %s "$TF_CLI_CONFIG_FILE"'],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    assert shell.stdout == str(installation.cli_config)


def test_the_wrapper_says_what_to_do_without_its_variable(tmp_path: Path) -> None:
    installation = install(tmp_path)
    done = subprocess.run(
        [str(installation.executable)],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=10,
    )
    assert done.returncode == 1
    assert "PROVISIONER_TF_PYTHON is not set" in done.stderr
    assert 'eval "$(provisioner terraform install)"' in done.stderr
