"""Reading topology YAML fast into plain data, with PyYAML as the careful fallback.

The fast path parses with ``yaml_rs`` (a Rust YAML parser, about fifteen times faster than
libyaml through PyYAML on big files) and keeps no positions; ``provisioner.config.positions``
finds them later, only when there is something to report. ``yaml_rs`` reads the YAML 1.2 core
schema: ``yes``/``no``/``on``/``off`` stay text (the model's booleans still accept them) and
``0755`` is decimal. Documents with merge keys (``<<``), or that ``yaml_rs`` refuses (duplicate
keys, for example), take PyYAML's path for the data too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml
import yaml_rs
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioner.config.positions import MERGE_TAG, Positions
from provisioner.config.rules.base import Finding, Loc
from provisioner.exceptions import ConfigFileError


@dataclass
class Source:
    """A parsed file: its data, and the node tree when it was composed already."""

    file: str
    text: str
    data: object
    tree: Node | None = None

    def positions(self) -> Positions:
        """Line and column lookup for this file."""
        return Positions(self.text, self.data, self.tree)


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
                if not isinstance(key, ScalarNode) or key.tag == MERGE_TAG:
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
