"""Periodic background work of a management server: expunger, host health, template replication...

Each area contributes a :class:`PeriodicTask` by adding its import string to :data:`BACKGROUND_TASKS`
(one line per area, like the command modules). The server starts one daemon thread per task after the
job pool, and stops them before the database is released. A task's ``run`` gets the engine and this
node's ``msid``; it must do a bounded amount of work per call and must be safe when several management
servers run it at once (claim rows with conditional updates or leases, as the job pool does).
The interval is read from the setting ``interval_setting`` (seconds, as CloudStack's ``*.interval``
settings) at every round, so ``updateConfiguration`` takes effect without a restart; a change made through this
server (:func:`setting_changed`) also cuts short the wait already under way, so a lowered interval applies at once
rather than after the old one (up to an hour for some settings).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from provisioner.db.engine import run_in_transaction
from provisioner.services.configuration import config_value

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicTask:
    """A piece of background work run every ``interval`` seconds.

    Attributes:
        name: shown in logs and thread names.
        run: does one round; gets the engine and this node's msid.
        interval_setting: the configuration setting holding the interval in seconds, or None.
        default_interval: seconds between rounds when the setting is absent or not a number.
        interval_unit: seconds per unit of the setting (0.001 for CloudStack's millisecond settings).
    """

    name: str
    run: Callable[[Engine, int], None]
    interval_setting: str | None = None
    default_interval: float = 60.0
    interval_unit: float = 1.0


#: ``module:attribute`` of each area's :class:`PeriodicTask` (imported when a server starts).
BACKGROUND_TASKS: tuple[str, ...] = (
    "provisioner.services.infrastructure.host_health:HOST_HEALTH",
    "provisioner.services.compute.lifecycle.expunge:EXPUNGER",
    "provisioner.services.templates.reconciler:TASK",
    "provisioner.services.templates.extract:CLEANUP",
    "provisioner.services.infrastructure.storage_stats:TASK",
)


def load_tasks(names: tuple[str, ...] = BACKGROUND_TASKS) -> list[PeriodicTask]:
    """Import the tasks named ``module:attribute``."""
    tasks = []
    for name in names:
        module, _, attribute = name.partition(":")
        tasks.append(getattr(importlib.import_module(module), attribute))
    return tasks


#: The runners of this process, told by :func:`setting_changed` that an interval may have changed.
_RUNNERS: weakref.WeakSet[BackgroundRunner] = weakref.WeakSet()


def setting_changed(name: str) -> None:
    """Tell this process's runners that the setting ``name`` changed (``updateConfiguration`` calls this after its
    commit): the tasks whose interval it holds read it again now and run as soon as the new interval has passed
    since their last round. Other management servers see the change at their next round, as before."""
    for runner in list(_RUNNERS):
        runner.setting_changed(name)


class BackgroundRunner:
    """Runs :class:`PeriodicTask` s on daemon threads until :meth:`stop`."""

    def __init__(self, engine: Engine, msid: int, tasks: list[PeriodicTask]) -> None:
        self.engine = engine
        self.msid = msid
        self.tasks = tasks
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Notified on stop and when an interval setting changes; ``_changes`` counts the changes.
        self._changed = threading.Condition()
        self._changes = 0

    def start(self) -> None:
        """Start one thread per task."""
        _RUNNERS.add(self)
        for task in self.tasks:
            thread = threading.Thread(target=self._loop, args=(task,), name=f"bg-{task.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def setting_changed(self, name: str) -> None:
        """Wake the waits of the tasks whose interval is the setting ``name`` (they read it again)."""
        if any(task.interval_setting == name for task in self.tasks):
            with self._changed:
                self._changes += 1
                self._changed.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every task to stop after its current round and wait up to ``timeout`` seconds in all."""
        _RUNNERS.discard(self)
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout / max(1, len(self._threads)))
        self._threads.clear()

    def interval(self, task: PeriodicTask) -> float:
        """The task's current interval in seconds (its setting, else its default; at least 0.05 s)."""
        if task.interval_setting is None:
            return task.default_interval
        setting = task.interval_setting
        value = run_in_transaction(self.engine, lambda conn: config_value(conn, setting))
        try:
            return max(0.05, float(value) * task.interval_unit) if value else task.default_interval
        except ValueError:
            return task.default_interval

    def _loop(self, task: PeriodicTask) -> None:
        while self._wait_for_round(task):
            try:
                task.run(self.engine, self.msid)
            except Exception:  # a failed round must not end the task; the next round retries
                log.exception("background task %s failed", task.name)

    def _wait_for_round(self, task: PeriodicTask) -> bool:
        """Wait one interval from now (the end of the last round); False when the runner stops meanwhile.

        When an interval setting changes during the wait, the interval is read again and the wait ends as soon as
        the new one has passed since it began (at once when it has already).
        """
        began = time.monotonic()
        while True:
            with self._changed:
                seen = self._changes
            due = began + self._safe_interval(task)
            with self._changed:
                while self._changes == seen:
                    if self._stop.is_set():
                        return False
                    remaining = due - time.monotonic()
                    if remaining <= 0:
                        return True
                    self._changed.wait(remaining)

    def _safe_interval(self, task: PeriodicTask) -> float:
        try:
            return self.interval(task)
        except Exception:  # the database may be briefly unavailable; keep the default rhythm
            log.exception("reading the interval of background task %s failed", task.name)
            return task.default_interval
