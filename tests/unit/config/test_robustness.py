"""Any malformed document gives a list of positioned issues, never a crash in a rule."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.config.loader import load_text
from provisioner.exceptions import ModelError
from tests.unit.config.helpers import minimal

JUNK: list[Any] = [None, 0, -1, 5000, 1.5, True, "", "x", "198.18.1.1", "10.0.0.0/8", [], [1], ["a"], {}]
JUNK += [{"a": 1}, {"name": "z1"}, [{}], [None], "kvm", "local", "zone", "cluster", "host", "Basic"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


PATHS = list(_paths(minimal()))
mutation = st.tuples(st.sampled_from(PATHS), st.sampled_from(JUNK), st.booleans())


def _break(doc: dict[str, Any], path: tuple[Any, ...], junk: Any, delete: bool) -> None:
    node: Any = doc
    for part in path[:-1]:
        if not isinstance(node, dict | list):
            return
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict) and delete:
        node.pop(path[-1], None)
    elif isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)):
        node[path[-1]] = copy.deepcopy(junk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_broken_documents_give_positioned_issues(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    doc = minimal()
    for path, junk, delete in mutations:
        _break(doc, path, junk, delete)
    try:
        load_text(yaml.safe_dump(doc, sort_keys=False), "cloud.yaml")
    except ModelError as exc:
        assert exc.issues
        assert all(issue.line is not None for issue in exc.issues if issue.path != "<root>")
