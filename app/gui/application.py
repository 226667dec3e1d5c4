"""Creates the QApplication and the window; the self-test lives here too."""

from __future__ import annotations

import logging
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from app import __version__
from app.core.logs import disable_crash_capture, enable_crash_capture, setup_logging
from app.core.settings import PANES, load_settings

log = logging.getLogger(__name__)
SELF_TEST_TIMEOUT_MS = 60_000


def process_start_time() -> float:
    """Wall-clock time this process started, so first paint counts interpreter start-up."""
    try:  # Linux, without importing psutil on the start-up path
        import os

        fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        ticks = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))  # noqa: SIM115
        return boot + ticks
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        pass
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - only costs accuracy
        return time.time()


class FirstPaint(QObject):
    """Calls back once, right after the watched widget's first paint event."""

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
    """`argv` is the program name then Qt's own options (`-style Fusion` …), which Qt consumes."""
    argv = list(argv or sys.argv[:1])
    styled = any(a.lstrip("-").split("=", 1)[0] == "style" for a in argv[1:])
    app = QApplication.instance()
    if app is None:
        # Fusion: the palettes in app.gui.theme are made for it; -style overrides. Given as an argument,
        # not by setStyle, whose QStyle return value costs ~10 ms of enums before the first paint.
        app = QApplication(argv if styled else [*argv, "-style", "Fusion"])
    elif not styled:
        app.setStyle("Fusion")
    app.setApplicationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Hearth")
    app.setDesktopFileName("hearth")
    from PySide6.QtGui import QIcon

    from app.core.resources import resources_dir

    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "hearth.png")))
    return app


def offer_crash_report(window, report_path) -> None:
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(window)
    box.setWindowTitle("Hearth closed unexpectedly")
    box.setText("Hearth closed unexpectedly last time. Do you want to see the crash report?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setObjectName("crashOffer")

    def answered(button):
        if box.standardButton(button) == QMessageBox.StandardButton.Yes:
            from app.gui.dialogs.error import ErrorDialog

            text = report_path.read_text(encoding="utf-8", errors="replace")
            dialog = ErrorDialog(f"Crash report from the last run ({report_path})", text, window)
            dialog.show()
            window._crash_dialog = dialog

    box.buttonClicked.connect(answered)
    box.show()
    window._crash_offer = box


def run_gui(self_test: bool = False, qt_args: list[str] | None = None) -> int:
    started = process_start_time()
    previous_crash = enable_crash_capture()
    app = create_app(sys.argv[:1] + list(qt_args or []))

    from app.gui.errors import install_hooks
    from app.gui.main_window import MainWindow

    install_hooks()
    window = MainWindow(load_settings())

    def painted():
        if self_test:
            print(f"first paint: {(time.time() - started) * 1000:.0f} ms", flush=True)
        setup_logging()  # the rotating log file: logging.handlers is imported after the paint, not before

    window._first_paint = FirstPaint(window, painted)
    if self_test:
        state = {"code": 1}

        def check_panes():
            missing = [n for n in PANES if n not in window.panes]
            broken = {n: str(e) for n, e in window.broken_panes.items()}
            if window.stack.count() != len(PANES) or missing or broken:
                print(f"self-test: panes missing: {missing}, broken: {broken}", file=sys.stderr)
            else:
                state["code"] = 0
            app.exit(state["code"])

        window.panes_ready.connect(lambda: QTimer.singleShot(0, check_panes))
        QTimer.singleShot(SELF_TEST_TIMEOUT_MS, lambda: (print("self-test: no paint", file=sys.stderr), app.exit(1)))
    elif previous_crash is not None:
        QTimer.singleShot(0, lambda: offer_crash_report(window, previous_crash))

    window.closed.connect(app.quit)  # after the workers have closed their models (see closeEvent)
    window.show()
    code = app.exec()
    if self_test:
        window.stop_workers()
    log.info("exit with code %s", code)
    disable_crash_capture()
    return code
