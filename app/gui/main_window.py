"""The main window: a pane list on the left, the panes, and a hardware status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from app import __version__
from app.core import paths
from app.core.settings import PANES, Settings, save_settings
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)
TITLES = {"chat": "Chat", "images": "Images", "speech": "Speech", "models": "Models"}


def _detect_hardware(token, report):
    from app.core import hardware

    return hardware.detect()


class MainWindow(QMainWindow):
    """The frame (pane list, status bar, menus) paints first; the panes are built
    right after the first paint, so the window appears at once."""

    hardware_ready = Signal(object)
    panes_ready = Signal()

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings
        self.first_run = not paths.settings_file().exists()
        self.report = None  # app.core.hardware.HardwareReport, once detected
        self.setWindowTitle("Hearth")
        self.setObjectName("mainWindow")
        self.setAccessibleName("Hearth")

        self.nav = QListWidget()
        self.nav.setObjectName("paneList")
        self.nav.setAccessibleName("Panes")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget()
        self.stack.setObjectName("paneStack")
        self.panes: dict[str, QWidget] = {}
        for name in PANES:
            self.nav.addItem(TITLES[name])
        self.nav.setCurrentRow(PANES.index(settings.last_pane) if settings.last_pane in PANES else 0)
        self.nav.currentRowChanged.connect(self._on_row)

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
        self.worker = SerialWorker("hardware-worker", self)
        self._painted = False

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.build_panes)

    def build_panes(self) -> None:
        """Idempotent; runs after the first paint (or on demand)."""
        if self.panes or not self.isVisible():  # closed before this ran: start no workers nobody stops
            return
        from app.gui.chat.pane import ChatPane
        from app.gui.images.pane import ImagesPane
        from app.gui.models.page import ModelsPane
        from app.gui.speech.pane import SpeechPane

        classes = {"chat": ChatPane, "images": ImagesPane, "speech": SpeechPane, "models": ModelsPane}
        self.broken_panes: dict[str, BaseException] = {}
        for name in PANES:
            try:
                pane = classes[name](self.settings)
            except Exception as exc:  # one broken pane must not take the window down
                log.exception("the %s pane could not be built", name)
                self.broken_panes[name] = exc
                pane = QLabel(f"The {TITLES[name]} pane could not start: {exc}\nSee the log for details.")
                pane.setWordWrap(True)
                pane.setObjectName(f"{name}PaneBroken")
            self.panes[name] = pane
            # A scroll area lets the window shrink below a pane's natural width (small screens).
            holder = QScrollArea()
            holder.setWidgetResizable(True)
            holder.setFrameShape(QFrame.Shape.NoFrame)
            holder.setWidget(pane)
            self.stack.addWidget(holder)
        for name in ("chat", "images", "speech"):
            if hasattr(self.panes[name], "picker"):
                self.panes[name].picker.manage_requested.connect(lambda: self.show_pane("models"))
        if hasattr(self.panes["models"], "store_changed"):
            self.panes["models"].store_changed.connect(self._refresh_pickers)
        chat, speech = self.panes["chat"], self.panes["speech"]
        if hasattr(chat, "receive_text") and hasattr(speech, "send_to_chat"):
            speech.send_to_chat.connect(self._send_to_chat)
            chat.set_dictation(speech.dictation)
        if self.first_run:
            try:
                from app.core.models.store import ModelStore

                if not ModelStore().list():  # a new install with nothing in it: start where models come from
                    self.show_pane("models")
            except Exception:  # noqa: BLE001 - a broken store is reported by the Models pane itself
                pass
        self._on_row(self.nav.currentRow())
        # Hardware detection starts once nothing competes with the first paint for the GIL.
        self.worker.submit(_detect_hardware, on_result=self._on_hardware, name="detect-hardware")
        self.panes_ready.emit()

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
    def current_widget(self):
        holder = self.stack.currentWidget()
        return holder.widget() if holder is not None else None

    def current_pane(self) -> str:
        return PANES[self.nav.currentRow()]

    def show_pane(self, name: str) -> None:
        self.nav.setCurrentRow(PANES.index(name) if name in PANES else 0)

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(PANES):
            self.settings.last_pane = PANES[row]
            if self.panes:
                self.stack.setCurrentIndex(row)

    def _send_to_chat(self, text: str) -> None:
        self.panes["chat"].receive_text(text)
        self.show_pane("chat")

    def _refresh_pickers(self) -> None:
        for name in ("chat", "images", "speech"):
            if hasattr(self.panes[name], "picker"):
                self.panes[name].picker.refresh()

    # --- hardware ---------------------------------------------------------------------
    def _on_hardware(self, report) -> None:
        self.report = report
        self.hw_label.setText(report.summary())
        self.hw_label.setToolTip(report.to_text())
        if hasattr(self.panes.get("models"), "set_hardware"):
            self.panes["models"].set_hardware(report)
        self.hardware_ready.emit(report)

    def show_hardware(self) -> None:
        from app.gui.dialogs.hardware import HardwareDialog

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
        self.stop_workers()
        super().closeEvent(event)

    def stop_workers(self) -> None:
        self.worker.stop()
        for pane in self.panes.values():
            if hasattr(pane, "shutdown"):
                pane.shutdown()
