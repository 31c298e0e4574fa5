"""libvirt's event loop: registered once per process, before any connection, run by a daemon thread."""

from __future__ import annotations

import threading

import libvirt

_lock = threading.Lock()
#: The loop thread, once started (a list so no ``global`` statement is needed).
_threads: list[threading.Thread] = []
#: Wake the loop this often even when nothing happens, so it notices new callbacks promptly.
_TICK_MS = 500


def _noop(timer: int, opaque: object) -> None:
    """Timeout callback that only keeps the loop turning."""


def _run() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


def ensure_event_loop() -> None:
    """Register libvirt's default event implementation and start its thread (idempotent).

    libvirt requires the registration before the first ``open`` of any connection that wants events
    or keepalives, so drivers call this before connecting.
    """
    with _lock:
        if _threads:
            return
        libvirt.virEventRegisterDefaultImpl()
        libvirt.virEventAddTimeout(_TICK_MS, _noop, None)
        thread = threading.Thread(target=_run, name="libvirt-events", daemon=True)
        thread.start()
        _threads.append(thread)


def event_loop_running() -> bool:
    """Tell whether :func:`ensure_event_loop` has run in this process."""
    return bool(_threads) and _threads[0].is_alive()
