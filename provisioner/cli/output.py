"""How the CLI prints: data on stdout (text or JSON), problems on stderr."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any

from rich.console import Console

from provisioner.exceptions import Issue

#: Human-facing messages go to stderr so stdout stays clean for data and pipes.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    """``--output`` choices of commands that print data."""

    TEXT = "text"
    JSON = "json"


def print_json(data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON and a newline to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def print_issues(issues: list[Issue]) -> None:
    """List every issue on stderr, one ``file:line:column: path: message`` per line, then a count."""
    for issue in issues:
        err_console.print(issue.format(), markup=False)
    count = len(issues)
    err_console.print(f"[bold red]{count} problem{'s' if count != 1 else ''} found[/]")


def issues_as_json(issues: list[Issue]) -> list[dict[str, Any]]:
    """Issues as JSON-ready mappings (the ``--output json`` form)."""
    return [
        {
            "file": issue.file,
            "line": issue.line,
            "column": issue.column,
            "path": issue.path,
            "message": issue.message,
            "hint": issue.hint,
        }
        for issue in issues
    ]
