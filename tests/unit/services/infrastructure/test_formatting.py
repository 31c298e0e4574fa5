"""CloudStack's number formats on the wire (``DecimalFormat("#.##")``), without a database."""

from __future__ import annotations

import pytest

from provisioner.services.infrastructure.common import decimal_text, percent, split_csv


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (32000.0, "32000"), (12.5, "12.5"), (100 / 3, "33.33"), (0.004, "0"), (-0.0001, "0"), (99.999, "100")],
)
def test_decimal_text(value: float, text: str) -> None:
    assert decimal_text(value) == text


def test_percent() -> None:
    assert (percent(1, 8), percent(0, 8), percent(5, 0), percent(1, 3)) == ("12.5", "0", "0", "33.33")


def test_split_csv() -> None:
    assert split_csv(" a, b,,c ") == ["a", "b", "c"]
    assert split_csv(["x", " ", "y"]) == ["x", "y"]
    assert split_csv(None) == []
