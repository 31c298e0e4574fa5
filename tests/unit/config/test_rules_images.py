"""Templates and ISOs: formats per hypervisor, and the zones they list."""

from __future__ import annotations

from typing import Any

from tests.unit.config.helpers import Checker


def test_template_format_not_valid_for_its_hypervisor(check: Checker, doc: dict[str, Any]) -> None:
    doc["templates"][0]["format"] = "vhdx"
    check.expect(
        doc,
        "format: ^vhdx",
        "templates[0].format",
        "format vhdx cannot be used on kvm: kvm templates are QCOW2 or RAW; convert the image or change hypervisor",
    )


def test_iso_lists_an_unknown_zone(check: Checker, doc: dict[str, Any]) -> None:
    doc["isos"][0]["zones"] = ["z1", "z2"]
    check.expect(
        doc,
        "- ^z2",
        "isos[0].zones[1]",
        "zone 'z2' is not defined: list zones of this file, or write zones: all (defined: z1)",
    )


def test_zones_is_neither_all_nor_a_list(check: Checker, doc: dict[str, Any]) -> None:
    doc["templates"][0]["zones"] = "every"
    check.expect(
        doc,
        "zones: ^every",
        "templates[0].zones",
        "'every' is neither 'all' nor a list: write zones as one of them",
    )
