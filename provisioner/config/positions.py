"""Line and column of a document location, composing as little of the file as it can.

Composing PyYAML's node tree of a 100,000-host file takes about twenty seconds, too long to
wait for one message. Topology files are block-style at the top, so the lines of one top-level
key, or of one item of a top-level list (``zones[5]``), can be found by indentation alone and
composed by themselves. Whenever that does not work out (flow style, anchors from elsewhere,
exotic line breaks, a slice that does not read back as the expected item), the whole file is
composed instead, so positions are always right and usually fast.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioner.config.rules.base import Loc

MERGE_TAG = "tag:yaml.org,2002:merge"
_TOP_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]|$)")
_ITEM = re.compile(r"( *)-(?: |$)")
# Line breaks PyYAML counts that str.split("\n") does not: slices would be numbered wrongly.
_ODD_BREAKS = ("\x85", "\u2028", "\u2029")

Slice = tuple[Node, int, int]  # node, lines before it in the file, parts of the location it stands for


class Positions:
    """Maps document locations to 1-based ``(line, column)`` in the file."""

    def __init__(self, text: str, data: Any, tree: Node | None = None) -> None:
        self.text = text
        self.data = data
        self._tree = tree
        self._composed = tree is not None
        self._lines: list[str] | None = None
        self._blocks: dict[str, tuple[int, int]] | None = None
        self._slices: dict[tuple[str, int | None], Slice | None] = {}

    def locate(self, loc: Loc, on_key: bool = False) -> tuple[int, int] | None:
        """Where the value at ``loc`` is, or the key when ``on_key``.

        A location that does not exist (a missing key) resolves to the deepest mapping or list
        that does, so a missing key points at the object that lacks it.
        """
        if not self._composed and loc and isinstance(loc[0], str):
            index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
            found = self._slice(loc[0], index) if index is not None else None
            found = found or self._slice(loc[0], None)
            if found is not None:
                node, offset, used = found
                line, column = walk(node, loc[used:], on_key)
                return line + offset, column
        tree = self._full()
        return walk(tree, loc, on_key) if tree is not None else None

    def _full(self) -> Node | None:
        if not self._composed:
            self._composed = True
            try:
                self._tree = yaml.compose(self.text, Loader=yaml.CSafeLoader)
            except yaml.YAMLError:  # the fast parser read what PyYAML cannot: no positions
                self._tree = None
        return self._tree

    def _slice(self, key: str, index: int | None) -> Slice | None:
        if (key, index) not in self._slices:
            try:
                self._slices[key, index] = self._compose_slice(key, index)
            except yaml.YAMLError:
                self._slices[key, index] = None
        return self._slices[key, index]

    def _compose_slice(self, key: str, index: int | None) -> Slice | None:
        blocks = self._scan()
        if key not in blocks:
            return None
        lines = self._lines or []
        start, end = blocks[key]
        if index is None:
            node = yaml.compose("\n".join(lines[start:end]), Loader=yaml.CSafeLoader)
            return (node, start, 0) if isinstance(node, MappingNode) else None
        items = _item_starts(lines, start + 1, end)
        if index >= len(items):
            return None
        first, last = items[index], items[index + 1] if index + 1 < len(items) else end
        node = yaml.compose("\n".join(lines[first:last]), Loader=yaml.CSafeLoader)
        if not isinstance(node, SequenceNode) or len(node.value) != 1 or not self._same_item(node.value[0], key, index):
            return None
        return node.value[0], first, 2

    def _same_item(self, node: Node, key: str, index: int) -> bool:
        """The slice reads back as the item the data holds there (compared by its name)."""
        items = self.data.get(key) if isinstance(self.data, dict) else None
        item = items[index] if isinstance(items, list) and index < len(items) else None
        name = item.get("name") if isinstance(item, dict) else None
        if name is None:
            return True
        found = _child(node, "name")
        return found is not None and isinstance(found[1], ScalarNode) and found[1].value.strip() == str(name)

    def _scan(self) -> dict[str, tuple[int, int]]:
        """Top-level keys written at column 0, with the lines each one spans."""
        if self._blocks is not None:
            return self._blocks
        self._blocks = {}
        text = self.text
        if any(mark in text for mark in _ODD_BREAKS) or text.count("\r") != text.count("\r\n"):
            return self._blocks
        self._lines = [line.rstrip("\r") for line in text.split("\n")]
        starts: list[tuple[str, int]] = []
        for number, line in enumerate(self._lines):
            if line and line[0] not in " \t#-.%" and (match := _TOP_KEY.match(line)):
                starts.append((match.group(1), number))
        if not starts:
            return self._blocks
        ends = [number for _, number in starts[1:]] + [len(self._lines)]
        for (key, start), end in zip(starts, ends, strict=True):
            self._blocks.setdefault(key, (start, end))
        return self._blocks


def _item_starts(lines: list[str], start: int, end: int) -> list[int]:
    """Lines where the items of a block sequence begin (the indentation of its first ``-``)."""
    indent: int | None = None
    found: list[int] = []
    for number in range(start, end):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        if indent is None:
            match = _ITEM.match(line)
            if match is None:
                return []  # flow style or a mapping: not a block sequence
            indent = len(match.group(1))
        if len(line) - len(stripped) == indent and stripped[0] == "-" and stripped[1:2] in ("", " "):
            found.append(number)
    return found


def walk(tree: Node, loc: Loc, on_key: bool = False) -> tuple[int, int]:
    """Follow ``loc`` down a node tree as far as it exists; 1-based line and column of where it ends."""
    node = tree
    key_node: Node | None = None
    for part in loc:
        found = _child(node, part)
        if found is None:
            key_node = None
            break
        key_node, node = found
    target = key_node if on_key and key_node is not None else node
    return target.start_mark.line + 1, target.start_mark.column + 1


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if isinstance(node, SequenceNode) and isinstance(part, int):
        return (None, node.value[part]) if 0 <= part < len(node.value) else None
    if not isinstance(node, MappingNode):
        return None
    wanted = str(part)
    found: tuple[Node | None, Node] | None = None
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == MERGE_TAG:
            merged = [value] if isinstance(value, MappingNode) else list(getattr(value, "value", []))
            for source in merged:
                inner = _child(source, part)
                if inner is not None and found is None:
                    found = inner
        elif isinstance(key, ScalarNode) and key.value == wanted:
            found = (key, value)  # a later key wins, as when the data was constructed
    return found
