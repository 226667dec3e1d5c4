"""Unhandled errors become a log entry and a dialog; the app keeps running.

``sys.excepthook`` catches exceptions raised in slots (PySide6 hands them to
it) and ``threading.excepthook`` those of plain threads. The reporter lives on
the GUI thread, so a report from any thread reaches the dialog through a
queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.core.jobs import HearthError

if TYPE_CHECKING:
    from app.gui.dialogs.error import ErrorDialog

log = logging.getLogger("app.errors")

# Where the user finds the log: the Help menu's item (main_window.py).
UNEXPECTED = "an unexpected error (the log has the details: Help > Open log folder)"


def in_words(exc: BaseException) -> str:
    """A failure in words for a pane's message line: ours say what went wrong; anything else names the
    log, never its repr (the worker logged it with its traceback)."""
    return str(exc) if isinstance(exc, HearthError) else UNEXPECTED


class ErrorReporter(QObject):
    _reported = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.dialog: ErrorDialog | None = None
        self.count = 0
        self._reported.connect(self._show)  # queued when reported from another thread

    def report(self, exc: BaseException, where: str = "") -> None:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if isinstance(exc, HearthError):
            message = str(exc)
        else:
            message = f"Unexpected error{' in ' + where if where else ''}: {type(exc).__name__}: {exc}"
        log.error("%s\n%s", message, details)
        self._reported.emit(message, details)

    @Slot(str, str)
    def _show(self, message: str, details: str) -> None:
        self.count += 1
        # One dialog collects a burst of errors instead of stacking windows.
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add(message, details)
            return
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        from app.gui.dialogs.error import ErrorDialog  # built on first use: start-up stays lean

        self.dialog = ErrorDialog(message, details, QApplication.activeWindow())
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.destroyed.connect(self._forget_dialog)
        self.dialog.show()

    @Slot()
    def _forget_dialog(self) -> None:
        self.dialog = None


_reporter: ErrorReporter | None = None


def reporter() -> ErrorReporter:
    global _reporter
    if _reporter is None:
        _reporter = ErrorReporter()
    return _reporter


def install_hooks() -> None:
    rep = reporter()

    def excepthook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        rep.report(exc.with_traceback(tb))

    def thread_hook(hook_args):
        if hook_args.exc_type is SystemExit:
            return
        name = hook_args.thread.name if hook_args.thread else "a thread"
        rep.report(hook_args.exc_value, where=f"thread {name}")

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
