"""Load a topology file into a validated :class:`~provisioner.model.Cloud`, reporting every problem at once."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provisioner.config.messages import findings_from
from provisioner.config.rules import run_rules
from provisioner.config.rules.base import Finding, format_loc
from provisioner.config.source import Source, duplicate_keys, parse
from provisioner.exceptions import ConfigFileError, Issue, ModelError
from provisioner.model import Cloud


def load_topology(path: str | Path) -> Cloud:
    """Read, parse and validate a topology file.

    Structural problems (pydantic) and cross-object rules (``provisioner.config.rules``) are
    all reported in one go, each with its file, line, column and document path.

    Args:
        path: the YAML (or JSON) file.

    Returns:
        The validated cloud.

    Raises:
        ConfigFileError: the file cannot be read or is not YAML.
        ModelError: the document is not a valid topology; ``issues`` lists every problem.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{file}: cannot read the topology: it is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigFileError(f"{file}: cannot read the topology: {exc.strerror or exc}") from exc
    return load_text(text, str(file))


def load_text(text: str, file: str = "<string>") -> Cloud:
    """Parse and validate a topology given as text (``file`` names it in messages).

    Raises:
        ConfigFileError: the text is not YAML.
        ModelError: the document is not a valid topology.
    """
    with _collector_paused():
        source = parse(text, file)
        cloud, findings = check(source.data)
        findings.extend(duplicate_keys(source.tree))
    if findings:
        raise ModelError(to_issues(findings, source))
    assert cloud is not None
    return cloud


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are built.

    Each full collection walks every live object, and a 100,000-host file triggers many of
    them: pausing halves the load time. Cycles made meanwhile are collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check(data: Any) -> tuple[Cloud | None, list[Finding]]:
    """Validate parsed data with the model and every rule, without positions.

    Returns:
        The cloud (``None`` when the model rejected the data) and every finding.
    """
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        return None, [Finding((), f"the topology is {shown}: it must be a mapping with name, regions and zones")]
    # Rules first: their index of the document is freed before the models are built, which
    # keeps the peak memory of a 100,000-host file lower.
    rule_findings = run_rules(data)
    cloud: Cloud | None = None
    try:
        cloud = Cloud.model_validate(data)
        findings: list[Finding] = []
    except ValidationError as exc:
        findings = findings_from(exc, data)
    return cloud, findings + rule_findings


def to_issues(findings: Iterable[Finding], source: Source) -> list[Issue]:
    """Attach file, line and column to findings, sorted by position in the file."""
    positions = source.positions()
    issues: list[Issue] = []
    for finding in findings:
        where = positions.locate(finding.loc, finding.on_key)
        line, column = where if where is not None else (None, None)
        issues.append(Issue(format_loc(finding.loc), finding.message, source.file, line, column, finding.hint))
    issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
    return issues
