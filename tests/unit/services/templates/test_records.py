"""CloudStack's template status strings (``TemplateJoinDaoImpl.getTemplateStatus``) and download details."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.services.templates.records import download_details, status_text


def ref(state: str, download_state: str, pct: int = 0, error: str | None = None) -> dict[str, Any]:
    return {
        "state": state,
        "download_state": download_state,
        "download_pct": pct,
        "error_str": error,
        "store_name": "ss1",
    }


@pytest.mark.parametrize(
    ("row", "iso", "expected"),
    [
        (ref("Ready", "DOWNLOADED", 100), False, "Download Complete"),
        (ref("Creating", "DOWNLOAD_IN_PROGRESS", 42), False, "42% Downloaded"),
        (ref("Creating", "DOWNLOAD_IN_PROGRESS", 100), False, "Installing Template"),
        (ref("Creating", "DOWNLOAD_IN_PROGRESS", 100), True, "Installing ISO"),
        (ref("Failed", "DOWNLOAD_ERROR", 3, " checksum mismatch \n"), False, "checksum mismatch"),
        (ref("Allocated", "NOT_DOWNLOADED"), False, "Allocated"),
        (ref("Allocated", "BYPASSED"), False, "Bypassed Secondary Storage"),
    ],
)
def test_status_text(row: dict[str, Any], iso: bool, expected: str) -> None:
    assert status_text(row, is_iso=iso) == expected


def test_download_details_are_strings() -> None:
    assert download_details([ref("Creating", "DOWNLOAD_IN_PROGRESS", 7)]) == [
        {"datastore": "ss1", "downloadPercent": "7", "downloadState": "DOWNLOAD_IN_PROGRESS"}
    ]
