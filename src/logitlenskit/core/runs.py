"""One computation at a time per model; the newest request wins.

A widget submits work (a new prompt, a tracked token) as a *job*: a function of a
:class:`~logitlenskit.core.run.Control`. :class:`Runner` guarantees, per widget:

* jobs on one model never overlap (a lock per model, shared by every widget on it), so
  nnsight never sees two traces at once, whatever threads the requests come from;
* a newer request abandons the older one (its control raises ``Cancelled`` at the next
  layer or block) and an abandoned job's result is dropped, never shown;
* ``busy`` is true from the first request until no job is running or waiting;
* browser requests run in a worker thread (the kernel stays free for other cells); Python
  requests run in the caller's thread and return once the result is applied;
* a failure while a result is applied goes to ``fail`` like a failed run (never lost in a
  worker thread);
* :meth:`Runner.close` abandons its jobs and ends its thread, so a closed widget is freed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .locks import model_lock
from .run import Cancelled, Control

__all__ = ["Runner", "model_lock"]

#: Progress reports closer together than this are dropped. Each is a comm message the
#: page must handle while the run needs both cores, and the bar moves smoothly enough at 4 Hz.
PROGRESS_INTERVAL = 0.25
#: No report in a run's first half second: the page shows progress only after a second.
PROGRESS_DELAY = 0.5


class _JobControl(Control):
    def __init__(self, report: Callable[[float, str], None]) -> None:
        self.cancelled = threading.Event()
        self._report = report
        self._next_report = time.monotonic() + PROGRESS_DELAY

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def progress(self, fraction: float, status: str) -> None:
        now = time.monotonic()
        if now >= self._next_report:
            self._next_report = now + PROGRESS_INTERVAL
            self._report(fraction, status)


Job = Callable[[Control], Any]
Apply = Callable[[Any], None]
Fail = Callable[[BaseException], None]


class Runner:
    """Serializes one widget's jobs (see the module docstring).

    Args:
        model: the model every job runs on.
        on_busy: called with True/False when the widget becomes busy or idle.
        on_progress: called with (fraction, status) while a job runs.
    """

    def __init__(
        self, model: Any, on_busy: Callable[[bool], None], on_progress: Callable[[float, str], None]
    ) -> None:
        self._lock = model_lock(model)
        self._on_busy = on_busy
        self._on_progress = on_progress
        self._state = threading.Lock()
        self._generation = 0
        self._active = 0
        self._busy = False
        self._busy_order = threading.Lock()
        self._control: _JobControl | None = None
        self._pending: tuple[int, Job, Apply, Fail] | None = None
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._closed = False

    # -------------------------------------------------------------- requests

    def claim(self) -> int:
        """Make a new request the newest (abandoning older ones); returns its ticket.

        Read the request's inputs and claim under one lock of the caller's, so that the
        newest ticket always carries the newest inputs.
        """
        return self._supersede()

    def submit(
        self, job: Job, apply: Apply, fail: Fail, background: bool, ticket: int | None = None
    ) -> None:
        """Run ``job``; hand its result to ``apply`` (or its error to ``fail``) if still newest.

        Background jobs replace any job still waiting; foreground jobs block the caller.
        ``ticket`` comes from :meth:`claim` (default: claim now).
        """
        if self._closed:
            return
        generation = self._supersede() if ticket is None else ticket
        if background:
            with self._state:
                if generation != self._generation:
                    return
                self._pending = (generation, job, apply, fail)
            self._sync_busy()
            self._ensure_worker()
            self._wake.set()
        else:
            self._execute(generation, job, apply, fail)

    def stop(self) -> bool:
        """Abandon the running and waiting jobs; True if there was one."""
        with self._state:
            had = self._control is not None or self._pending is not None
        self._supersede()
        self._sync_busy()
        return had

    def close(self, timeout: float = 2.0) -> None:
        """Abandon every job and end the worker thread (within ``timeout`` seconds)."""
        self._closed = True
        self._supersede()
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        self._sync_busy()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits (tests, and code that reads results)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._state:
                if self._active == 0 and self._pending is None:
                    return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    # -------------------------------------------------------------- machinery

    def _supersede(self) -> int:
        with self._state:
            self._generation += 1
            self._pending = None
            if self._control is not None:
                self._control.cancelled.set()
            return self._generation

    def _current(self, generation: int) -> bool:
        with self._state:
            return generation == self._generation

    def _execute(self, generation: int, job: Job, apply: Apply, fail: Fail) -> None:
        control = _JobControl(self._on_progress)
        self._enter()
        try:
            with self._lock:
                with self._state:
                    if generation != self._generation:
                        return
                    self._control = control
                try:
                    result = job(control)
                except Cancelled:
                    return
                except Exception as exc:  # reported through fail; the view stays
                    if self._current(generation):
                        fail(exc)
                    return
                finally:
                    with self._state:
                        if self._control is control:
                            self._control = None
                if self._current(generation):
                    try:
                        apply(result)
                    except Exception as exc:  # shown like a failed run, not lost in a thread
                        fail(exc)
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._state:
            self._active += 1
        self._sync_busy()

    def _leave(self) -> None:
        with self._state:
            self._active -= 1
        self._sync_busy()

    def _sync_busy(self) -> None:
        """Report busy/idle transitions, in order, once each."""
        with self._busy_order:
            with self._state:
                busy = self._active > 0 or self._pending is not None
                changed, self._busy = busy != self._busy, busy
            if changed:
                self._on_busy(busy)

    def _ensure_worker(self) -> None:
        with self._state:
            if self._worker is not None and self._worker.is_alive():
                return
            self._worker = threading.Thread(target=self._work, name="logitlens-run", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            while not self._closed:
                with self._state:
                    item, self._pending = self._pending, None
                    if item is not None:
                        self._active += 1  # busy across the hand-over, no False blip
                if item is None:
                    break
                try:
                    self._execute(*item)
                finally:
                    self._leave()
