"""Golden files: every tests/fixtures/inventory/<case>/model.yaml renders to its expected.{yml,json,ini}."""

from __future__ import annotations

import os

import pytest

from provisioner.ansible.serialize import FORMATS, Format, serialize
from tests.unit.ansible.cases import CASES, FIXTURES, GOLDEN, case_inventory

# Regenerate after an intended change with::
#
#     UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/ansible/test_golden.py
#
# and review the diff of the expected files like code.

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_inventory_matches_golden_file(case: str, fmt: Format) -> None:
    text = serialize(case_inventory(case), fmt)
    expected = FIXTURES / case / GOLDEN[fmt]
    if UPDATE:
        expected.write_text(text, encoding="utf-8")
    assert expected.is_file(), f"{expected} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_output_is_byte_for_byte_stable(case: str) -> None:
    # Two independent loads and builds: no dict- or set-order may leak into the output.
    first = {fmt: serialize(case_inventory(case), fmt) for fmt in FORMATS}
    second = {fmt: serialize(case_inventory(case), fmt) for fmt in FORMATS}
    assert first == second


def test_every_case_has_all_golden_files() -> None:
    assert CASES, "no golden cases found"
    for case in CASES:
        for name in GOLDEN.values():
            assert (FIXTURES / case / name).is_file() or UPDATE, f"{case}/{name} is missing"
