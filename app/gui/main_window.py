"""The main window: a pane list on the left, the panes, and a hardware status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app import __version__
from app.core import hardware, paths
from app.core.settings import PANES, Settings, save_settings
from app.gui.dialogs.hardware import HardwareDialog
from app.gui.panes.models import ModelsPane
from app.gui.panes.placeholders import ChatPane, ImagesPane, SpeechPane
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)
TITLES = {"chat": "Chat", "images": "Images", "speech": "Speech", "models": "Models"}


def _detect_hardware(token, report):
    return hardware.detect()


class MainWindow(QMainWindow):
    hardware_ready = Signal(object)

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings
        self.report: hardware.HardwareReport | None = None
        self.setWindowTitle("Hearth")
        self.setObjectName("mainWindow")
        self.setAccessibleName("Hearth")

        self.nav = QListWidget()
        self.nav.setObjectName("paneList")
        self.nav.setAccessibleName("Panes")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget()
        self.stack.setObjectName("paneStack")
        self.panes: dict[str, QWidget] = {
            "chat": ChatPane(settings),
            "images": ImagesPane(settings),
            "speech": SpeechPane(settings),
            "models": ModelsPane(settings),
        }
        for name in PANES:
            self.nav.addItem(TITLES[name])
            self.stack.addWidget(self.panes[name])
        self.nav.currentRowChanged.connect(self._on_row)
        for name in ("chat", "images", "speech"):
            self.panes[name].picker.manage_requested.connect(lambda: self.show_pane("models"))
        self.panes["models"].store_changed.connect(self._refresh_pickers)

        central = QWidget()
        row = QHBoxLayout(central)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.hw_label = QLabel("Detecting hardware…")
        self.hw_label.setObjectName("hardwareSummary")
        self.hw_label.setAccessibleName("Hardware summary")
        self.statusBar().addPermanentWidget(self.hw_label)
        self._build_menus()

        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
        else:
            self.resize(1100, 720)
        self.show_pane(settings.last_pane)

        self.worker = SerialWorker("hardware-worker", self)
        self.worker.submit(_detect_hardware, on_result=self._on_hardware, name="detect-hardware")

    # --- menus and shortcuts --------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view = self.menuBar().addMenu("&View")
        self.pane_actions: dict[str, QAction] = {}
        for i, name in enumerate(PANES, start=1):
            action = QAction(TITLES[name], self)
            action.setShortcut(QKeySequence(f"Ctrl+{i}"))
            action.triggered.connect(lambda _=False, n=name: self.show_pane(n))
            view.addAction(action)
            self.addAction(action)  # shortcuts work with the menu bar hidden too
            self.pane_actions[name] = action

        help_menu = self.menuBar().addMenu("&Help")
        self.hardware_action = QAction("&Hardware…", self)
        self.hardware_action.triggered.connect(self.show_hardware)
        help_menu.addAction(self.hardware_action)
        logs = QAction("Open &log folder", self)
        logs.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir()))))
        help_menu.addAction(logs)
        about = QAction("&About Hearth", self)
        about.triggered.connect(
            lambda: QMessageBox.about(self, "About Hearth", f"Hearth {__version__}\nLocal AI, offline.")
        )
        help_menu.addAction(about)

    # --- panes ------------------------------------------------------------------------
    def current_pane(self) -> str:
        return PANES[self.stack.currentIndex()]

    def show_pane(self, name: str) -> None:
        self.nav.setCurrentRow(PANES.index(name) if name in PANES else 0)

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(PANES):
            self.stack.setCurrentIndex(row)
            self.settings.last_pane = PANES[row]

    def _refresh_pickers(self) -> None:
        for name in ("chat", "images", "speech"):
            self.panes[name].picker.refresh()

    # --- hardware ---------------------------------------------------------------------
    def _on_hardware(self, report: hardware.HardwareReport) -> None:
        self.report = report
        self.hw_label.setText(report.summary())
        self.hw_label.setToolTip(report.to_text())
        self.hardware_ready.emit(report)

    def show_hardware(self) -> None:
        dialog = HardwareDialog(self.report, self)
        dialog.show()
        self._hardware_dialog = dialog

    # --- shutdown ---------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.error("could not save settings: %s", exc)
        self.worker.stop()
        self.panes["models"].worker.stop()
        super().closeEvent(event)
