"""The one way work leaves the GUI thread.

A ``SerialWorker`` owns one QThread and runs its jobs one at a time (design
rule 3: one worker per loaded model). A job is a plain function
``fn(token, report, *args)``; ``report(value)`` sends progress, coalesced so
that at most one update waits for the GUI at a time and the latest value
always arrives (tokens, progress: one repaint per frame, never one per item).
Results, typed errors and cancellation come back as signals on the ``Job``,
which lives on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.jobs import Cancelled, CancelToken, HearthError

log = logging.getLogger(__name__)


class Job(QObject):
    """A submitted job. Its outcome signals fire on the GUI thread, and ``done``
    turns true only after every handler of the outcome has run."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # after any of the three outcomes
    _outcome = Signal(str, object)  # from the worker thread, queued to ours
    _progress_ready = Signal()

    def __init__(self, fn: Callable, args: tuple, name: str, token: CancelToken | None = None):
        super().__init__()
        self.fn, self.args, self.name = fn, args, name
        self.token = token or CancelToken()
        self.done = False
        self.outcome: str | None = None
        self._plock = threading.Lock()
        self._latest = None
        self._pending = False
        self._outcome.connect(self._deliver)
        self._progress_ready.connect(self._flush_progress)

    @Slot(str, object)
    def _deliver(self, outcome: str, value) -> None:
        self.outcome = outcome
        if outcome == "succeeded":
            self.succeeded.emit(value)
        elif outcome == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.done = True
        self.finished.emit()

    def cancel(self) -> None:
        self.token.cancel()

    def _report(self, value) -> None:
        """Called on the worker thread: keeps the latest value, wakes the GUI once."""
        with self._plock:
            self._latest = value
            wake = not self._pending
            self._pending = True
        if wake:
            self._progress_ready.emit()

    @Slot()
    def _flush_progress(self) -> None:
        with self._plock:
            value, self._pending = self._latest, False
        self.progress.emit(value)


class _Runner(QObject):
    run_job = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.run_job.connect(self._run)

    @Slot(object)
    def _run(self, job: Job) -> None:
        if job.token.cancelled:
            job._outcome.emit("cancelled", None)
            return
        try:
            result = job.fn(job.token, job._report, *job.args)
        except Cancelled:
            job._outcome.emit("cancelled", None)
        except HearthError as exc:
            log.warning("job %s failed: %s", job.name, exc)
            job._outcome.emit("failed", exc)
        except Exception as exc:  # unexpected: logged with its traceback, reported
            log.exception("job %s raised", job.name)
            job._outcome.emit("failed", exc)
        else:
            job._outcome.emit("succeeded", result)


class SerialWorker(QObject):
    """One thread, jobs in order. ``stop()`` cancels what is queued and joins."""

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._jobs: list[Job] = []
        self._thread.start()

    def submit(
        self,
        fn: Callable,
        *args,
        on_result: Callable | None = None,
        on_error: Callable | None = None,
        on_progress: Callable | None = None,
        name: str | None = None,
        token: CancelToken | None = None,
    ) -> Job:
        job = Job(fn, args, name or getattr(fn, "__name__", "job"), token)
        if on_result:
            job.succeeded.connect(on_result)
        if on_progress:
            job.progress.connect(on_progress)
        job.failed.connect(on_error or _report_unexpected)
        self._jobs.append(job)
        job.finished.connect(lambda: self._jobs.remove(job) if job in self._jobs else None)
        self._runner.run_job.emit(job)
        return job

    def busy(self) -> bool:
        return any(not j.done for j in self._jobs)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def stop(self, timeout_ms: int = 3000, cancel: bool = True) -> bool:
        """Cancels what is queued (unless told not to), lets the thread finish, joins it."""
        if cancel:
            self.cancel_all()
        self._thread.quit()
        return self._thread.wait(timeout_ms)


def _report_unexpected(exc: BaseException) -> None:
    from app.gui.errors import reporter

    reporter().report(exc)
