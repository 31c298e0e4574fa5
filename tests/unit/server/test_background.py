"""The background runner: rounds repeat at the configured interval, survive failures and stop on request."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, insert, update

from provisioner.db.schema import configuration
from provisioner.server.background import BackgroundRunner, PeriodicTask, load_tasks, setting_changed


def _wait_for(event: threading.Event, seconds: float = 10.0) -> bool:
    return event.wait(seconds)


def test_a_task_runs_repeatedly_with_the_msid_and_survives_a_failing_round(db_engine: Engine) -> None:
    rounds: list[int] = []
    enough = threading.Event()

    def run(engine: Engine, msid: int) -> None:
        rounds.append(msid)
        if len(rounds) == 1:
            raise RuntimeError("first round fails")
        if len(rounds) >= 3:
            enough.set()

    runner = BackgroundRunner(db_engine, 42, [PeriodicTask("probe", run, default_interval=0.05)])
    runner.start()
    try:
        assert _wait_for(enough), "the task stopped after its failing round"
    finally:
        runner.stop()
    assert set(rounds) == {42}


def test_the_interval_comes_from_the_setting_and_falls_back_to_the_default(db_engine: Engine) -> None:
    task = PeriodicTask("probe", lambda engine, msid: None, interval_setting="test.probe.interval", default_interval=7)
    runner = BackgroundRunner(db_engine, 1, [task])
    assert runner.interval(task) == 7
    with db_engine.begin() as conn:
        conn.execute(
            insert(configuration).values(
                name="test.probe.interval", value="0.5", scope="global", scope_id=0, category="Advanced"
            )
        )
    assert runner.interval(task) == 0.5
    # CloudStack's millisecond settings (storage.stats.interval) scale by the task's unit.
    in_ms = PeriodicTask("ms", lambda engine, msid: None, interval_setting="test.probe.interval", interval_unit=0.001)
    with db_engine.begin() as conn:
        conn.execute(update(configuration).where(configuration.c.name == "test.probe.interval").values(value="1500"))
    assert runner.interval(in_ms) == 1.5


def test_stop_ends_the_threads_without_waiting_for_the_next_round(db_engine: Engine) -> None:
    runner = BackgroundRunner(db_engine, 1, [PeriodicTask("slow", lambda engine, msid: None, default_interval=3600)])
    runner.start()
    started = time.monotonic()
    runner.stop()
    assert time.monotonic() - started < 5
    assert not any(thread.is_alive() for thread in threading.enumerate() if thread.name == "bg-slow")


def test_a_lowered_interval_applies_at_once_not_after_the_wait_under_way(db_engine: Engine) -> None:
    # updateConfiguration calls setting_changed after its commit: a task waiting out an hour runs within the new
    # interval, and a change of another setting does not disturb it.
    ran = threading.Event()
    task = PeriodicTask("hourly", lambda engine, msid: ran.set(), interval_setting="test.hourly.interval")
    with db_engine.begin() as conn:
        conn.execute(
            insert(configuration).values(
                name="test.hourly.interval", value="3600", scope="global", scope_id=0, category="Advanced"
            )
        )
    runner = BackgroundRunner(db_engine, 1, [task])
    runner.start()
    try:
        setting_changed("test.other.interval")
        assert not ran.wait(0.3)
        with db_engine.begin() as conn:
            hourly = configuration.c.name == "test.hourly.interval"
            conn.execute(update(configuration).where(hourly).values(value="0.2"))
        started = time.monotonic()
        setting_changed("test.hourly.interval")
        assert _wait_for(ran), "the task still waits out the old interval"
        assert time.monotonic() - started < 5
    finally:
        runner.stop()
    assert not any(thread.is_alive() for thread in threading.enumerate() if thread.name == "bg-hourly")


def test_load_tasks_imports_module_attribute_names() -> None:
    (task,) = load_tasks(("tests.unit.server.test_background:PROBE",))
    assert task is PROBE


PROBE = PeriodicTask("imported", lambda engine, msid: None)
