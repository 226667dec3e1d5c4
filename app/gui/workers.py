"""The one way work leaves the GUI thread.

A ``SerialWorker`` owns one QThread and runs its jobs one at a time; a
``ModelWorker`` is the one serial worker per loaded model (app/ARCHITECTURE.md, Threads). A job is a plain function
``fn(cancel, progress, *args)``: ``cancel`` is its CancelToken, ``progress(value)`` sends progress, coalesced so
that at most one update waits for the GUI at a time and the latest value
always arrives (tokens, progress: one repaint per frame, never one per item).
Results, typed errors and cancellation come back as signals on the ``Job``,
which lives on the GUI thread.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.jobs import Cancelled, CancelToken, HearthError

log = logging.getLogger(__name__)

# Every worker thread until it has finished: a window closes without waiting for its workers, so a
# thread may outlive the objects that started it, and Qt aborts if a running QThread is destroyed.
_live_threads: set[QThread] = set()
_live_lock = threading.Lock()


def _forget(thread: QThread) -> None:
    with _live_lock:
        _live_threads.discard(thread)


def join_all(timeout_ms: int = 10000) -> bool:
    """Waits for every worker thread still ending (tests, and after the event loop has ended)."""
    with _live_lock:
        threads = list(_live_threads)
    return all(t.wait(timeout_ms) for t in threads)


atexit.register(join_all)  # a thread still closing its model at exit ends first, not mid-teardown


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

    def __init__(self, fn: Callable, args: tuple, name: str, cancel: CancelToken | None = None):
        super().__init__()
        self.fn, self.args, self.name = fn, args, name
        self.cancel_token = cancel or CancelToken()
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
        self.cancel_token.cancel()

    def _send_progress(self, value) -> None:
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
        if job.cancel_token.cancelled:
            job._outcome.emit("cancelled", None)
            return
        try:
            result = job.fn(job.cancel_token, job._send_progress, *job.args)
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
    """One thread, jobs in order. ``finish()`` ends it without blocking; ``stop()`` cancels and joins."""

    ended = Signal()  # the thread has finished (after finish() or stop())

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._thread.finished.connect(self.ended)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._jobs: list[Job] = []
        self._closed = False  # finish() or stop() was called: no new thread
        self._forgets = False  # the finished thread leaves _live_threads

    def _start(self) -> None:
        """The thread starts with the first job, so a pane that fails half-built leaves none behind."""
        if not self._thread.isRunning() and not self._closed:
            if not self._forgets:  # here, not in __init__: the Qt namespace costs ~20 ms before the first paint
                from PySide6.QtCore import Qt

                self._forgets = True
                self._thread.finished.connect(lambda t=self._thread: _forget(t), Qt.ConnectionType.DirectConnection)
            with _live_lock:
                _live_threads.add(self._thread)
            self._thread.start()

    def submit(
        self,
        fn: Callable,
        *args,
        on_result: Callable | None = None,
        on_error: Callable | None = None,
        on_progress: Callable | None = None,
        name: str | None = None,
        cancel: CancelToken | None = None,
    ) -> Job:
        job = Job(fn, args, name or getattr(fn, "__name__", "job"), cancel)
        if on_result:
            job.succeeded.connect(on_result)
        if on_progress:
            job.progress.connect(on_progress)
        job.failed.connect(on_error or _report_unexpected)
        self._jobs.append(job)
        job.finished.connect(lambda: self._jobs.remove(job) if job in self._jobs else None)
        self._start()
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
        self._closed = True
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def finish(self, cleanup: Callable[[], None] | None = None, cancel: bool = True) -> None:
        """Never blocks: cancels what is queued (unless told not to), runs ``cleanup`` on the worker
        thread after the jobs before it, then ends the thread; ``ended`` fires when it has."""

        def last(cancel_token, progress):
            try:
                if cleanup is not None:
                    cleanup()
            finally:
                QThread.currentThread().quit()

        if cancel:
            self.cancel_all()
        if self.running():
            self.submit(last, name=f"{self.name}-finish", on_error=lambda exc: log.warning("cleanup: %s", exc))
        self._closed = True

    def running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int) -> bool:
        """Joins the thread (blocks: for tests and after the event loop has ended, not for the GUI)."""
        return self._thread.wait(timeout_ms)


class ModelWorker(QObject):
    """A serial worker that owns one model (app/ARCHITECTURE.md, Threads): it opens the model lazily on its own
    thread, opens it again when the id changes, and closes it there at exit. Subclasses say how to
    open (``open_model``) and add their jobs; the model is touched only on the worker thread."""

    thread_name = "model-worker"

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = SerialWorker(self.thread_name, self)
        self.model = None
        self.model_id: str | None = None

    def open_model(self, model_id: str):
        raise NotImplementedError

    def release(self) -> None:
        """Closes what the subclass owns besides the model; runs on the worker thread at exit."""

    def ensure(self, model_id: str):
        """The open model for ``model_id``, opening (or switching to) it first. Worker thread only."""
        if self.model is None or self.model_id != model_id:
            self.close_model()
            self.model = self.open_model(model_id)
            self.model_id = model_id
        return self.model

    def close_model(self) -> None:
        model, self.model, self.model_id = self.model, None, None
        close = getattr(model, "close", None)  # engines with a process or handles to free
        if close is not None:
            close()

    def submit(self, fn: Callable, *args, name: str, **callbacks) -> Job:
        return self.worker.submit(fn, *args, name=name, **callbacks)

    def finish(self) -> SerialWorker:
        """Never blocks: cancels, closes the model and the rest on the worker thread, ends the thread."""

        def cleanup() -> None:
            try:
                self.close_model()
            finally:
                self.release()

        self.worker.finish(cleanup)
        return self.worker

    def stop(self, timeout_ms: int = 10000) -> bool:
        """``finish`` and join: for tests and for after the event loop has ended."""
        return self.finish().wait(timeout_ms)


def _report_unexpected(exc: BaseException) -> None:
    from app.gui.errors import reporter

    reporter().report(exc)
