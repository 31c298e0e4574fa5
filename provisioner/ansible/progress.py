"""Follow an ansible-runner event stream: per-play, per-task and per-host state, and its live rich display.

:class:`RunTracker` is pure bookkeeping (no I/O), fed one runner event at a time; :class:`LiveProgress`
draws a tracker on a rich console while the run goes on. Counting follows Ansible's PLAY RECAP: a
``changed`` result is also ``ok``, an ignored failure counts as ``ignored`` (and ``ok``), and the
``playbook_on_stats`` event at the end replaces the running counts with Ansible's own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

Event = dict[str, Any]

#: The counters of a PLAY RECAP line, in the order Ansible prints them.
COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
# playbook_on_stats names some counters differently from the recap it prints.
_STATS_KEYS = {"ok": "ok", "changed": "changed", "dark": "unreachable", "failures": "failed", "skipped": "skipped"}
_STATS_KEYS |= {"rescued": "rescued", "ignored": "ignored"}
#: How many hosts the live table shows; the rest are summed in one line.
LIVE_HOST_ROWS = 12
_MESSAGE_LIMIT = 400


@dataclass
class HostCounts:
    """One host's PLAY RECAP counters."""

    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failed: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    @property
    def healthy(self) -> bool:
        """No failed and no unreachable result."""
        return not self.failed and not self.unreachable

    def as_json(self) -> dict[str, int]:
        """The counters as a mapping, recap order."""
        return {name: getattr(self, name) for name in COUNTERS}


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed (or could not reach its host) on one host."""

    host: str
    play: str
    task: str
    action: str
    message: str
    unreachable: bool = False

    def as_json(self) -> dict[str, Any]:
        """Plain data for ``--output json`` and the outcome file."""
        return {
            "host": self.host,
            "play": self.play,
            "task": self.task,
            "action": self.action,
            "message": self.message,
            "unreachable": self.unreachable,
        }


@dataclass
class PlayState:
    """One play: its hosts, how many tasks it started, and which hosts finished the current task."""

    name: str
    pattern: str
    hosts: set[str] = field(default_factory=set)
    tasks_started: int = 0
    current_task: str = ""
    done_current: set[str] = field(default_factory=set)
    finished: bool = False


def _failure_message(res: Any) -> str:
    """The one line that says why a task failed: msg, else stderr, else the reason runner gives."""
    if not isinstance(res, dict):
        return str(res)[:_MESSAGE_LIMIT]
    for key in ("msg", "stderr", "reason", "module_stderr", "exception"):
        value = res.get(key)
        if value:
            text = " ".join(str(value).split())
            return text[:_MESSAGE_LIMIT]
    return "failed (no message)"


class RunTracker:
    """The state of a playbook run, rebuilt from runner events (thread-safe for one writer, many readers).

    Args:
        expected_hosts: the hosts the run targets (after ``--limit``), shown before they report.
    """

    def __init__(self, expected_hosts: list[str] | None = None) -> None:
        self.lock = threading.Lock()
        self.plays: list[PlayState] = []
        self.hosts: dict[str, HostCounts] = {name: HostCounts() for name in expected_hosts or []}
        self.failures: list[TaskFailure] = []
        self.events = 0
        self.final_stats = False

    @property
    def current_play(self) -> PlayState | None:
        """The play running now (the last one started)."""
        return self.plays[-1] if self.plays else None

    def handle(self, event: Event) -> None:
        """Account for one runner event (events this tracker does not know are ignored)."""
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        with self.lock:
            self.events += 1
            if kind == "playbook_on_play_start":
                self._play_started(data)
            elif kind == "playbook_on_task_start":
                self._task_started(data)
            elif kind.startswith("runner_on_") and data.get("host"):
                self._host_result(kind[len("runner_on_") :], data)
            elif kind == "playbook_on_stats":
                self._stats(data)

    def _play_started(self, data: dict[str, Any]) -> None:
        if self.plays:
            self.plays[-1].finished = True
        self.plays.append(PlayState(name=str(data.get("play") or data.get("name") or "play"), pattern=""))
        self.plays[-1].pattern = str(data.get("play_pattern", ""))

    def _task_started(self, data: dict[str, Any]) -> None:
        play = self.current_play
        if play is None:
            return
        play.tasks_started += 1
        play.current_task = str(data.get("task") or data.get("name") or data.get("task_action") or "task")
        play.done_current = set()

    def _host_result(self, outcome: str, data: dict[str, Any]) -> None:
        host = str(data["host"])
        if outcome in ("start", "async_poll", "retry"):
            if self.current_play is not None:
                self.current_play.hosts.add(host)
            return
        counts = self.hosts.setdefault(host, HostCounts())
        res = data.get("res") or {}
        play = self.current_play
        if outcome in ("ok", "async_ok"):
            counts.ok += 1
            counts.changed += bool(isinstance(res, dict) and res.get("changed"))
        elif outcome in ("failed", "async_failed"):
            if data.get("ignore_errors"):
                counts.ignored += 1
                counts.ok += 1
            else:
                counts.failed += 1
                self.failures.append(self._failure(host, data, res, unreachable=False))
        elif outcome == "unreachable":
            counts.unreachable += 1
            self.failures.append(self._failure(host, data, res, unreachable=True))
        elif outcome == "skipped":
            counts.skipped += 1
        else:
            return
        if play is not None:
            play.hosts.add(host)
            play.done_current.add(host)

    def _failure(self, host: str, data: dict[str, Any], res: Any, *, unreachable: bool) -> TaskFailure:
        play = self.current_play
        return TaskFailure(
            host=host,
            play=play.name if play else str(data.get("play", "")),
            task=str(data.get("task", "")),
            action=str(data.get("task_action", "")),
            message=_failure_message(res),
            unreachable=unreachable,
        )

    def _stats(self, data: dict[str, Any]) -> None:
        # Ansible's own totals win over the running counts (they include handler and rescue bookkeeping).
        hosts: set[str] = set()
        for key in _STATS_KEYS:
            hosts.update((data.get(key) or {}).keys())
        for host in hosts:
            counts = self.hosts.setdefault(host, HostCounts())
            for key, name in _STATS_KEYS.items():
                setattr(counts, name, int((data.get(key) or {}).get(host, 0)))
        for play in self.plays:
            play.finished = True
        self.final_stats = True

    def totals(self) -> HostCounts:
        """The counters summed over every host."""
        total = HostCounts()
        with self.lock:
            for counts in self.hosts.values():
                for name in COUNTERS:
                    setattr(total, name, getattr(total, name) + getattr(counts, name))
        return total

    def failed_hosts(self) -> list[str]:
        """Hosts with a failed or unreachable result, sorted."""
        with self.lock:
            return sorted(name for name, counts in self.hosts.items() if not counts.healthy)


def _counts_row(counts: HostCounts) -> list[Text]:
    styles = {"ok": "green", "changed": "yellow", "unreachable": "red", "failed": "red"}
    return [
        Text(str(getattr(counts, name)), style=styles.get(name, "") if getattr(counts, name) else "dim")
        for name in ("ok", "changed", "failed", "unreachable", "skipped")
    ]


def host_table(tracker: RunTracker, *, limit: int | None = None, title: str | None = None) -> Table:
    """A table of per-host counters; unhealthy hosts first; ``limit`` rows, the rest summed in one line."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    table.add_column("host")
    for name in ("ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(name, justify="right")
    with tracker.lock:
        rows = sorted(tracker.hosts.items(), key=lambda item: (item[1].healthy, item[0]))
    shown = rows if limit is None else rows[:limit]
    for name, counts in shown:
        table.add_row(Text(name, style="" if counts.healthy else "bold red"), *_counts_row(counts))
    if len(rows) > len(shown):
        rest = HostCounts()
        for _, counts in rows[len(shown) :]:
            for counter in COUNTERS:
                setattr(rest, counter, getattr(rest, counter) + getattr(counts, counter))
        table.add_row(Text(f"… {len(rows) - len(shown)} more", style="dim"), *_counts_row(rest))
    return table


class _LiveView:
    """What the live display shows: one bar per play, the current task, the host table."""

    def __init__(self, tracker: RunTracker, expected_hosts: int) -> None:
        self.tracker = tracker
        self.expected_hosts = expected_hosts

    def __rich__(self) -> RenderableType:
        plays = Table.grid(padding=(0, 1))
        plays.add_column(no_wrap=True)
        plays.add_column(width=24)
        plays.add_column(justify="right", no_wrap=True)
        plays.add_column(no_wrap=True, overflow="ellipsis")
        with self.tracker.lock:
            states = [
                (p.name, p.finished, len(p.done_current), len(p.hosts), p.tasks_started, p.current_task)
                for p in self.tracker.plays
            ]
        for name, finished, done, seen, tasks, task in states:
            hosts = max(seen or self.expected_hosts, 1)
            bar = ProgressBar(total=hosts, completed=hosts if finished else done, width=24)
            mark = Text("✓", style="green") if finished else Text("…", style="cyan")
            detail = Text("done", style="dim") if finished else Text(f"task {tasks}: {task}", style="cyan")
            plays.add_row(Text.assemble(mark, " ", name), bar, f"{hosts if finished else done}/{hosts}", detail)
        return Group(plays, Text(""), host_table(self.tracker, limit=LIVE_HOST_ROWS))


class LiveProgress:
    """Show a run's progress while it goes: a rich live view on a terminal, one line per play otherwise.

    Use as a context manager around the run and pass :meth:`handle` as runner's ``event_handler``.

    Args:
        console: where to draw (the CLI's stderr console).
        tracker: the state to draw; the caller keeps it for the summary.
        expected_hosts: how many hosts the run targets (the bar's length before hosts report).
        enabled: False draws nothing (``--output json`` or quiet runs).
    """

    def __init__(self, console: Console, tracker: RunTracker, expected_hosts: int, *, enabled: bool = True) -> None:
        self.console = console
        self.tracker = tracker
        self.enabled = enabled
        self._live: Live | None = None
        self._announced = 0
        if enabled and console.is_terminal:
            self._live = Live(
                _LiveView(tracker, expected_hosts), console=console, refresh_per_second=4, transient=False
            )

    def __enter__(self) -> LiveProgress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        elif self.enabled:
            self._announce_plays(final=True)

    def handle(self, event: Event) -> bool:
        """Runner's ``event_handler``: account for the event, keep it in the artifacts (returns True)."""
        self.tracker.handle(event)
        if self._live is None and self.enabled and event.get("event") == "playbook_on_play_start":
            self._announce_plays(final=False)
        return True

    def _announce_plays(self, *, final: bool) -> None:
        # Without a terminal, one line per play as it starts (and a last one at the end) keeps logs readable.
        with self.tracker.lock:
            names = [play.name for play in self.tracker.plays]
        for index in range(self._announced, len(names)):
            self.console.print(f"PLAY [{index + 1}] {names[index]}", markup=False)
        self._announced = len(names)
        if final:
            totals = self.tracker.totals()
            self.console.print(
                f"{len(names)} plays, {len(self.tracker.hosts)} hosts: ok={totals.ok} changed={totals.changed} "
                f"failed={totals.failed} unreachable={totals.unreachable}",
                markup=False,
            )
