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

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from app.core import paths
from app.core.jobs import HearthError

log = logging.getLogger("app.errors")


class ErrorDialog(QDialog):
    def __init__(self, message: str, details: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Hearth: something went wrong")
        self.setObjectName("errorDialog")
        self.setAccessibleName("Error")
        layout = QVBoxLayout(self)
        self.message = QLabel(message)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        hint = QLabel(f"Hearth is still running. The details are also in the log:\n{paths.log_file()}")
        hint.setWordWrap(True)
        hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(hint)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("&Copy details")
        copy.setAccessibleName("Copy details")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(f"{message}\n\n{details}"))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.resize(640, 420)

    def add(self, message: str, details: str) -> None:
        self.message.setText(message)
        self.details.appendPlainText("\n" + "-" * 40 + "\n" + details)


class ErrorReporter(QObject):
    _reported = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.dialog: ErrorDialog | None = None
        self.count = 0
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

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
        from PySide6.QtWidgets import QApplication

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
