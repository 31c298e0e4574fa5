"""render_project: a complete, deterministic, idempotent Ansible project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner.ansible.limit import apply_limit
from provisioner.ansible.render import CONCERNS, PLUGIN_DIR, RenderError, render_project, roles_dir
from tests.unit.ansible.cases import case_inventory, load_case, model_path

REPO = Path(__file__).resolve().parents[3]


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def test_project_layout(tmp_path: Path) -> None:
    render_project(load_case("multi"), tmp_path, model_path("multi"))
    for relative in ("ansible.cfg", "site.yml", "inventory/hosts.yml", "inventory/group_vars/all.yml"):
        assert (tmp_path / relative).is_file(), relative
    for concern in CONCERNS:
        assert (tmp_path / "playbooks" / f"{concern}.yml").is_file()
    assert (tmp_path / "inventory/host_vars/kvm1.yml").is_file()
    site = yaml.safe_load((tmp_path / "site.yml").read_text())
    assert [entry["ansible.builtin.import_playbook"] for entry in site] == [f"playbooks/{c}.yml" for c in CONCERNS]
    cfg = (tmp_path / "ansible.cfg").read_text()
    assert f"inventory_plugins = {PLUGIN_DIR}" in cfg
    assert "enable_plugins = provisioner," in cfg
    # roles/ appears in the repository with the first role; until then there is nothing to link.
    assert (tmp_path / "roles").is_symlink() == (roles_dir() is not None)


def test_rendered_site_imports_the_same_playbooks_as_the_repository_site() -> None:
    repo_site = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert [entry["ansible.builtin.import_playbook"] for entry in repo_site] == [f"{c}.yml" for c in CONCERNS]


def test_vars_live_in_group_vars_and_host_vars(tmp_path: Path) -> None:
    render_project(load_case("multi"), tmp_path, model_path("multi"))
    inventory = case_inventory("multi")
    structure = yaml.safe_load((tmp_path / "inventory/hosts.yml").read_text())
    assert "vars" not in structure["all"]
    cluster = yaml.safe_load((tmp_path / "inventory/group_vars/cluster_kvm_a.yml").read_text())
    assert cluster == inventory.groups["cluster_kvm_a"].vars
    host = yaml.safe_load((tmp_path / "inventory/host_vars/kvm3.yml").read_text())
    assert host == inventory.hostvars["kvm3"]


def test_second_render_changes_nothing(tmp_path: Path) -> None:
    assert render_project(load_case("multi"), tmp_path, model_path("multi"))
    before = _snapshot(tmp_path)
    assert render_project(load_case("multi"), tmp_path, model_path("multi")) == []
    assert _snapshot(tmp_path) == before


def test_stale_owned_files_are_removed_and_others_kept(tmp_path: Path) -> None:
    render_project(load_case("multi"), tmp_path, model_path("multi"))
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's own file")
    limited = apply_limit(case_inventory("multi"), "kvm_hosts")
    changed = render_project(load_case("multi"), tmp_path, model_path("multi"), inventory=limited)
    assert "inventory/host_vars/hv1.yml" in changed
    assert not (tmp_path / "inventory/host_vars/hv1.yml").exists()
    assert (tmp_path / "inventory/host_vars/kvm1.yml").exists()
    assert mine.read_text() == "the user's own file"


def test_plugin_mode_points_at_the_topology(tmp_path: Path) -> None:
    render_project(load_case("multi"), tmp_path, model_path("multi"))
    changed = render_project(load_case("multi"), tmp_path, model_path("multi"), plugin=True)
    assert "inventory/hosts.yml" in changed
    assert not (tmp_path / "inventory/hosts.yml").exists()
    assert not (tmp_path / "inventory/group_vars").exists()
    plugin = yaml.safe_load((tmp_path / "inventory/cloud.provisioner.yml").read_text())
    assert plugin["plugin"] == "provisioner"
    assert (tmp_path / "inventory" / plugin["topology"]).resolve() == model_path("multi").resolve()


def test_missing_playbooks_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_PLAYBOOKS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(RenderError, match="no playbooks found"):
        render_project(load_case("lab"), tmp_path / "out", model_path("lab"))


@pytest.mark.parametrize("case", ["multi"])
def test_rendering_does_not_depend_on_the_hash_seed(tmp_path: Path, case: str) -> None:
    # Set or dict-order leaks would show up as different bytes under different hash seeds.
    script = (
        "import sys; from provisioner.ansible.render import render_project;"
        "from provisioner.config import load_topology;"
        "render_project(load_topology(sys.argv[1]), sys.argv[2], sys.argv[1])"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(model_path(case)), str(out)], check=True, env=env, timeout=60)
        outputs.append({path: content for path, (content, _) in _snapshot(out).items()})
    assert outputs[0] == outputs[1]
