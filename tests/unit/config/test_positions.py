"""Positions from slices of the file agree with positions from the whole node tree, whatever the style."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from provisioner.config.positions import Positions, walk
from provisioner.config.rules.base import Loc
from tests.unit.config.helpers import minimal

LOCS: list[tuple[Loc, bool]] = [
    (("zones", 0, "pods", 0, "clusters", 0, "hosts", 1, "ip"), False),
    (("zones", 0, "pods", 0, "clusters", 0, "hosts", 0, "nics", "pn1"), True),
    (("zones", 0, "pods", 0, "clusters", 0, "hosts", 1, "missing"), False),
    (("templates", 0, "format"), False),
    (("storage_servers", 0, "name"), True),
    (("name",), False),
    (("absent",), False),
    ((), False),
]


class _Indented(yaml.SafeDumper):
    """Block sequences indented under their key (``key:\\n  - item``), as many people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


STYLES = {
    "block": lambda doc: yaml.safe_dump(doc, sort_keys=False, width=200),
    "flow": lambda doc: yaml.safe_dump(doc, sort_keys=False, default_flow_style=True, width=200),
    "indented": lambda doc: yaml.dump(doc, Dumper=_Indented, sort_keys=False, width=200),
    "crlf": lambda doc: yaml.safe_dump(doc, sort_keys=False, width=200).replace("\n", "\r\n"),
    "comments": lambda doc: (
        "# a cloud\n\n"
        + yaml.safe_dump(doc, sort_keys=False, width=200).replace("- name: h2", "# the second host\n      - name: h2")
    ),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_slices_agree_with_the_whole_tree(style: str) -> None:
    doc: dict[str, Any] = minimal()
    text = STYLES[style](doc)
    data = yaml.safe_load(text)
    assert data == doc
    tree = yaml.compose(text, Loader=yaml.CSafeLoader)
    assert tree is not None
    positions = Positions(text, data)
    for loc, on_key in LOCS:
        assert positions.locate(loc, on_key) == walk(tree, loc, on_key), (style, loc)


def test_anchor_from_another_item_falls_back_to_the_whole_tree() -> None:
    text = (
        "name: lab\n"
        "regions:\n"
        "- name: r1\n"
        "  management_servers: &servers\n"
        "  - {name: ms1, ip: 198.18.0.2}\n"
        "- name: r2\n"
        "  management_servers: *servers\n"
    )
    data = yaml.safe_load(text)
    loc = ("regions", 1, "management_servers", 0, "ip")
    assert Positions(text, data).locate(loc) == (5, 21)
