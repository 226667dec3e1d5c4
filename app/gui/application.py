"""Creates the QApplication and the window; the self-test lives here too."""

from __future__ import annotations

import logging
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.core.logs import disable_crash_capture, enable_crash_capture
from app.core.settings import load_settings

log = logging.getLogger(__name__)
SELF_TEST_TIMEOUT_MS = 60_000


def process_start_time() -> float:
    """Wall-clock time this process started, so first paint counts interpreter start-up."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - a missing psutil only costs accuracy
        return time.time()


class FirstPaint(QObject):
    """Calls back once, after the watched widget's first paint event."""

    def __init__(self, widget, callback):
        super().__init__(widget)
        self.callback, self.fired = callback, False
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if not self.fired and event.type() == QEvent.Type.Paint:
            self.fired = True
            QTimer.singleShot(0, self.callback)  # after this paint has finished
        return False


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Hearth")
    app.setDesktopFileName("hearth")
    return app


def offer_crash_report(window, report_path) -> None:
    box = QMessageBox(window)
    box.setWindowTitle("Hearth closed unexpectedly")
    box.setText("Hearth closed unexpectedly last time. Do you want to see the crash report?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setObjectName("crashOffer")

    def answered(button):
        if box.standardButton(button) == QMessageBox.StandardButton.Yes:
            from app.gui.errors import ErrorDialog

            text = report_path.read_text(encoding="utf-8", errors="replace")
            dialog = ErrorDialog(f"Crash report from the last run ({report_path})", text, window)
            dialog.show()
            window._crash_dialog = dialog

    box.buttonClicked.connect(answered)
    box.show()
    window._crash_offer = box


def run_gui(self_test: bool = False) -> int:
    started = process_start_time()
    previous_crash = enable_crash_capture()
    app = create_app()

    from app.gui.errors import install_hooks
    from app.gui.main_window import MainWindow

    install_hooks()
    window = MainWindow(load_settings())

    if self_test:
        state = {"code": 1}

        def done():
            ms = (time.time() - started) * 1000
            missing = [n for n, p in window.panes.items() if p is None or not p.isWidgetType()]
            if window.stack.count() != 4 or missing:
                print(f"self-test: panes missing: {missing}", file=sys.stderr)
            else:
                state["code"] = 0
            print(f"first paint: {ms:.0f} ms", flush=True)
            app.exit(state["code"])

        window._first_paint = FirstPaint(window, done)
        QTimer.singleShot(SELF_TEST_TIMEOUT_MS, lambda: (print("self-test: no paint", file=sys.stderr), app.exit(1)))
    elif previous_crash is not None:
        QTimer.singleShot(0, lambda: offer_crash_report(window, previous_crash))

    window.show()
    code = app.exec()
    if self_test:
        window.worker.stop()
        window.panes["models"].worker.stop()
    log.info("exit with code %s", code)
    disable_crash_capture()
    return code
