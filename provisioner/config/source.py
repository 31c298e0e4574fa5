"""Reading YAML fast, and finding where a value sits in the file once something is wrong with it.

The fast path parses with ``yaml_rs`` (a Rust YAML parser, about fifteen times faster than
libyaml through PyYAML on big files) into plain data and keeps no positions. Positions come
from PyYAML's node tree, composed only when there is something to report. Documents with merge
keys (``<<``), or that ``yaml_rs`` refuses (duplicate keys, for example), take PyYAML's path
for the data too, so PyYAML's YAML 1.1 reading decides what they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml
import yaml_rs
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioner.config.rules.base import Finding, Loc
from provisioner.exceptions import ConfigFileError

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Source:
    """A parsed file: its data, and the node tree when it was composed already."""

    file: str
    text: str
    data: object
    tree: Node | None = None

    def positions(self) -> Positions:
        """Line and column lookup for this file (composes the node tree on first use)."""
        if self.tree is None:
            try:
                self.tree = compose(self.text, self.file)
            except ConfigFileError:  # yaml_rs read what PyYAML cannot: report without positions
                return Positions(None)
        return Positions(self.tree)


def compose(text: str, file: str) -> Node | None:
    """PyYAML's node tree of a single-document file (``None`` for an empty file).

    Raises:
        ConfigFileError: the text is not YAML, naming the line and column where parsing stopped.
    """
    try:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
        problem = exc.problem or exc.context or "unreadable"
        raise ConfigFileError(f"{where}: not valid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{file}: not valid YAML: {exc}") from exc


def parse(text: str, file: str) -> Source:
    """Parse a topology file into plain data (dicts, lists, scalars).

    Args:
        text: the file's content.
        file: the name used in messages.

    Returns:
        The parsed source.

    Raises:
        ConfigFileError: the text is not YAML.
    """
    if "<<" not in text:
        try:
            return Source(file, text, yaml_rs.loads(text))
        except yaml_rs.YAMLDecodeError:
            pass  # PyYAML below gives the position, or reads what yaml_rs refused (duplicate keys)
    tree = compose(text, file)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:  # a tag the safe loader cannot construct, for instance
        raise ConfigFileError(f"{file}: not valid YAML: {exc}") from exc
    return Source(file, text, data, tree)


def duplicate_keys(tree: Node | None) -> Iterator[Finding]:
    """Keys written twice in one mapping (YAML keeps only the last, silently)."""
    stack: list[tuple[Node, Loc]] = [(tree, ())] if tree is not None else []
    while stack:
        node, loc = stack.pop()
        if isinstance(node, MappingNode):
            seen: dict[str, ScalarNode] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                    continue
                first = seen.setdefault(key.value, key)
                if first is not key:
                    yield Finding(
                        (*loc, key.value),
                        f"key {key.value!r} is written twice in this mapping (first on line "
                        f"{first.start_mark.line + 1}); YAML keeps only the last: remove one",
                        on_key=True,
                    )
                stack.append((value, (*loc, key.value)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))


class Positions:
    """Maps document locations to 1-based ``(line, column)`` in the file."""

    def __init__(self, tree: Node | None) -> None:
        self.tree = tree

    def locate(self, loc: Loc, on_key: bool = False) -> tuple[int, int] | None:
        """Where the value at ``loc`` is, or the key when ``on_key``.

        A location that does not exist (a missing key) resolves to the deepest mapping or list
        that does, so a missing key points at the object that lacks it.
        """
        node = self.tree
        if node is None:
            return None
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
        if isinstance(key, ScalarNode) and key.tag == _MERGE_TAG:
            merged = [value] if isinstance(value, MappingNode) else list(getattr(value, "value", []))
            for source in merged:
                inner = _child(source, part)
                if inner is not None and found is None:
                    found = inner
        elif isinstance(key, ScalarNode) and key.value == wanted:
            found = (key, value)  # a later key wins, as when the data was constructed
    return found
