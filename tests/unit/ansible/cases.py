"""The golden inventory cases under tests/fixtures/inventory/<case>/ and helpers shared by the ansible tests."""

from __future__ import annotations

from pathlib import Path

from provisioner.ansible.inventory import Inventory, build_inventory
from provisioner.config import load_topology
from provisioner.model import Cloud

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventory"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "model.yaml").is_file())
#: Golden file name per serialisation format.
GOLDEN = {"yaml": "expected.yml", "json": "expected.json", "ini": "expected.ini"}


def model_path(case: str) -> Path:
    """The topology file of a case."""
    return FIXTURES / case / "model.yaml"


def load_case(case: str) -> Cloud:
    """The validated topology of a case."""
    return load_topology(model_path(case))


def case_inventory(case: str) -> Inventory:
    """The inventory built from a case's topology."""
    return build_inventory(load_case(case))
