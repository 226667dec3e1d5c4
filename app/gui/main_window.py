"""The main window: a pane list on the left, the panes, and a hardware status bar."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QStackedWidget, QWidget

from app import __version__
from app.core import paths
from app.core.settings import PANES, Settings, save_settings
from app.gui import theme
from app.gui.workers import SerialWorker

if TYPE_CHECKING:
    from app.gui.panes.base import Pane

log = logging.getLogger(__name__)
TITLES = {"chat": "Chat", "images": "Images", "speech": "Speech", "documents": "Documents", "models": "Models"}
QUIT_WAIT_MS = 10_000  # longest a quit waits for the workers to close their models
ICONS = {"chat": "chat", "images": "images", "speech": "speech", "documents": "documents", "models": "models"}


def _keys(text: str) -> list[QKeySequence]:
    """A shortcut from its text. Not QKeySequence(text) or setShortcut(StandardKey): their overloads make
    PySide build the Qt namespace's ~95 enums, 20-60 ms before the first paint."""
    return QKeySequence.listFromString(text)


def _detect_hardware(cancel, progress, refresh: bool = False):
    from app.core import hardware

    return hardware.detect(refresh)


class MainWindow(QMainWindow):
    """The frame (pane list, status bar, menus) paints first; the panes are built
    right after the first paint, so the window appears at once."""

    hardware_ready = Signal(object)
    panes_ready = Signal()
    closed = Signal()  # closing has finished: the workers have ended (a hidden window does not quit Qt)

    def __init__(self, settings: Settings):
        super().__init__()
        self._show_maximized = False  # set by window_geometry.place, done by setVisible
        self.settings = settings
        self.first_run = not paths.settings_file().exists()
        self.hardware = None  # app.core.hardware.HardwareReport, once detected
        self.setWindowTitle("Hearth")
        self.setObjectName("mainWindow")
        self.setAccessibleName("Hearth")
        theme.apply(settings.theme)

        # The pane list and the stack are made in their place: moving a styled list with its rows into
        # another widget polished and laid it out again (~15 ms before the first paint).
        central = QWidget()
        self.setCentralWidget(central)
        self.nav = QListWidget(central)
        self.nav.setObjectName("paneList")
        self.nav.setAccessibleName("Panes")
        self.nav.setFixedWidth(160)
        self.nav.setIconSize(QSize(20, 20))
        # Styled before its rows are laid out: setCurrentRow below lays them out at once, and rows laid
        # out unstyled (22 px apart) kept those places once the style sheet made each 42 px tall (#24.5).
        self.nav.ensurePolished()
        self.stack = QStackedWidget(central)
        self.stack.setObjectName("paneStack")
        self.panes: dict[str, Pane] = {}
        for name in PANES:
            self.nav.addItem(QListWidgetItem(TITLES[name]))
        self._tint_nav()
        theme.notifier().changed.connect(self._on_theme)
        self.nav.setCurrentRow(PANES.index(settings.last_pane) if settings.last_pane in PANES else 0)
        self.nav.currentRowChanged.connect(self._on_row)

        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)

        self.hw_label = QLabel("Detecting hardware…")
        self.hw_label.setObjectName("hardwareSummary")
        self.hw_label.setAccessibleName("Hardware summary")
        self.statusBar().addPermanentWidget(self.hw_label)
        self._build_menus()

        from app.gui.window_geometry import place

        self._show_maximized = place(self, settings.window_geometry)
        self.worker = SerialWorker("hardware-worker", self)
        self._hardware_dialog = None
        self._ending: list[SerialWorker] | None = None  # set once closing has begun
        self._painted = False
        self.server_switch = None  # app.gui.server.ServerSwitch, once the panes are built
        self.find_box = None  # app.gui.find.box.FindBox, on the first Ctrl+K

    def setVisible(self, visible: bool) -> None:  # noqa: N802 - Qt override
        if visible and self._show_maximized:
            self._show_maximized = False
            self.showMaximized()  # maximizes, then comes back here to show
            return
        super().setVisible(visible)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.build_panes)

    def build_panes(self) -> None:
        """Idempotent; runs after the first paint (or on demand)."""
        if self.panes or not self.isVisible():  # closed before this ran: start no workers nobody stops
            return
        theme.confirm_system_scheme()  # the first paint went by the platform palette's guess
        from PySide6.QtWidgets import QFrame, QScrollArea  # here, not at the top: each class costs before the paint

        from app.core.saved_json import take_notices

        early = take_notices()  # the settings', met before the window: for the status bar, not the Models page
        from app.gui.chat.pane import ChatPane
        from app.gui.docs.pane import DocsPane
        from app.gui.images.pane import ImagesPane
        from app.gui.models.page import ModelsPane
        from app.gui.panes.base import BrokenPane
        from app.gui.speech.pane import SpeechPane

        classes = {"chat": ChatPane, "images": ImagesPane, "speech": SpeechPane, "documents": DocsPane,
                   "models": ModelsPane}
        for name in PANES:
            try:
                pane = classes[name](self.settings)
            except Exception as exc:  # one broken pane must not take the window down
                log.exception("the %s pane could not be built", name)
                pane = BrokenPane(name, TITLES[name], exc)
            self.panes[name] = pane
            # A scroll area lets the window shrink below a pane's natural width (small screens).
            holder = QScrollArea()
            holder.setWidgetResizable(True)
            holder.setFrameShape(QFrame.Shape.NoFrame)
            holder.setWidget(pane)
            self.stack.addWidget(holder)
        self._connect_panes(ChatPane, SpeechPane, ModelsPane)
        self._build_server_switch()
        if self.first_run:
            try:
                from app.core.models.store import ModelStore

                if not ModelStore().list():  # a new install with nothing in it: start where models come from
                    self.show_pane("models")
            except Exception:  # noqa: BLE001 - a broken store is reported by the Models pane itself
                pass
        self._on_row(self.nav.currentRow())
        self.show_notices(early)
        # Hardware detection starts once nothing competes with the first paint for the GIL.
        self.worker.submit(_detect_hardware, on_result=self._on_hardware, name="detect-hardware")
        self.panes_ready.emit()

    def show_notices(self, early: list[str] = ()) -> None:
        """Says once, in the status bar, what became of a saved file (set aside, a newer Hearth's kept).
        The Models page shows those it meets itself (a registry or queue file) on its own line."""
        from app.core.saved_json import take_notices

        notices = [*early, *take_notices()]
        if notices:
            self.statusBar().showMessage(" ".join(notices))

    def _connect_panes(self, chat_class, speech_class, models_class) -> None:
        """Wires the panes to each other; a broken pane (BrokenPane) simply takes no part."""
        for pane in self.panes.values():
            picker = pane.model_picker()
            if picker is not None:
                picker.manage_requested.connect(lambda: self.show_pane("models"))
        models, chat, speech = self.panes["models"], self.panes["chat"], self.panes["speech"]
        if isinstance(models, models_class):
            models.store_changed.connect(self._refresh_pickers)
        if isinstance(chat, chat_class):
            chat.download_requested.connect(self._download_model)
        if isinstance(chat, chat_class) and isinstance(speech, speech_class):
            speech.send_to_chat.connect(self._send_to_chat)
            chat.set_dictation(speech.dictation)
        images = self.panes["images"]
        from app.gui.images.pane import ImagesPane

        if isinstance(chat, chat_class) and isinstance(images, ImagesPane):
            images.ask_in_chat.connect(self._ask_in_chat)

    def _build_server_switch(self) -> None:
        """The Server switch shares the panes' model workers (app.gui.server)."""
        from app.gui.server import ServerSwitch

        owners = {"chat": "chat", "speech": "speech", "images": "images"}  # pane -> its ModelWorker attribute
        workers = {kind: getattr(self.panes.get(kind), attr) for kind, attr in owners.items()
                   if hasattr(self.panes.get(kind), attr)}
        self.server_switch = ServerSwitch(workers, self)
        self.statusBar().addPermanentWidget(self.server_switch)

    # --- menus and shortcuts --------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcuts(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcuts(_keys("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.show_settings)
        file_menu.addAction(self.settings_action)
        self.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        view = self.menuBar().addMenu("&View")
        self.find_action = QAction("&Find anything…", self)  # documents, transcripts, photos, chats
        self.find_action.setShortcuts(_keys("Ctrl+K"))
        self.find_action.triggered.connect(self.show_find)
        view.addAction(self.find_action)
        self.addAction(self.find_action)
        view.addSeparator()
        self.pane_actions: dict[str, QAction] = {}
        for i, name in enumerate(PANES, start=1):
            action = QAction(TITLES[name], self)
            action.setShortcuts(_keys(f"Ctrl+{i}"))
            action.triggered.connect(lambda _=False, n=name: self.show_pane(n))
            view.addAction(action)
            self.addAction(action)  # shortcuts work with the menu bar hidden too
            self.pane_actions[name] = action

        chat_menu = self.menuBar().addMenu("&Chat")
        self.new_chat_action = QAction("&New chat", self)
        self.new_chat_action.setShortcuts(_keys("Ctrl+N"))
        self.new_chat_action.triggered.connect(self.new_chat)
        self.find_chat_action = QAction("&Search chats", self)
        self.find_chat_action.setShortcuts(_keys("Ctrl+F"))
        self.find_chat_action.triggered.connect(self.find_chats)
        for action in (self.new_chat_action, self.find_chat_action):
            chat_menu.addAction(action)
            self.addAction(action)
        chat_menu.addSeparator()
        self.import_chat_action = QAction("&Import chat…", self)
        self.import_chat_action.triggered.connect(self.import_chat)
        chat_menu.addAction(self.import_chat_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcuts(_keys("F1"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        self.addAction(self.shortcuts_action)
        self.hardware_action = QAction("&Hardware…", self)
        self.hardware_action.triggered.connect(self.show_hardware)
        help_menu.addAction(self.hardware_action)
        logs = QAction("Open &log folder", self)
        logs.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir()))))
        help_menu.addAction(logs)
        about = QAction("&About Hearth", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, "About Hearth", f"Hearth {__version__}\nLocal AI, offline.")

    def _download_model(self, model_id: str) -> None:
        """The Chat pane's first-run button: the Models pane, that model selected and downloading."""
        self.show_pane("models")
        models = self.panes.get("models")
        if model_id and hasattr(models, "select"):
            models.select(model_id)
            selected = models.selected()
            if selected is not None and selected.id == model_id and selected.status == "available":
                models.download_selected()

    def new_chat(self) -> None:
        self.show_pane("chat")
        chat = self.panes.get("chat")
        if hasattr(chat, "new_conversation"):
            chat.new_conversation()

    def import_chat(self) -> None:
        self.show_pane("chat")
        chat = self.panes.get("chat")
        if hasattr(chat, "import_chat"):
            chat.import_chat()

    def find_chats(self) -> None:
        self.show_pane("chat")
        chat = self.panes.get("chat")
        if hasattr(chat, "sidebar"):
            chat.sidebar.search.setFocus()
            chat.sidebar.search.selectAll()

    def show_find(self):
        """The Ctrl+K box, built on first use; photos are searched on the Images pane's worker."""
        from app.gui.find.box import FindBox
        from app.gui.find.worker import FindWorker, photo_search

        if self.find_box is None:
            images = self.panes.get("images")
            photos = photo_search(images.images, images.picker.current) if hasattr(images, "images") else None
            self.find_box = FindBox(FindWorker(self), photos, self)
            self.find_box.open_requested.connect(self._open_found)
        self.find_box.show_box()
        return self.find_box

    def _open_found(self, hit) -> None:
        from app.gui.find.route import open_hit

        if problem := open_hit(self, hit):
            self.statusBar().showMessage(problem, 8000)
        elif hit.kind != "document":  # shown in a pane here: the window takes the keys back from the box
            self.activateWindow()

    def show_settings(self):
        from app.gui.dialogs.settings import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.applied.connect(self._settings_applied)
        dialog.show()
        self._settings_dialog = dialog
        return dialog

    def _settings_applied(self, changed: set) -> None:
        chat = self.panes.get("chat")
        if changed & {"chat_context", "chat_threads", "chat_gpu_layers"} and hasattr(chat, "settings_changed"):
            chat.settings_changed()

    def show_shortcuts(self):
        from app.gui.dialogs.shortcuts import ShortcutsDialog

        dialog = ShortcutsDialog(self)
        dialog.show()
        self._shortcuts_dialog = dialog
        return dialog

    def _on_theme(self, _name: str) -> None:
        self._tint_nav()

    def _tint_nav(self) -> None:
        from app.gui.icons import icon

        colors = theme.current_colors()
        for row, name in enumerate(PANES):
            self.nav.item(row).setIcon(icon(ICONS[name], selected=colors["accent_text"], greyed=False))

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

    def _ask_in_chat(self, paths: list) -> None:
        self.show_pane("chat")  # shown either way: a text-only model says there why it cannot take them
        self.panes["chat"].attach_files(paths)

    def _send_to_chat(self, text: str) -> None:
        self.panes["chat"].receive_text(text)
        self.show_pane("chat")

    @property
    def broken_panes(self) -> dict[str, BaseException]:
        from app.gui.panes.base import BrokenPane

        return {name: pane.error for name, pane in self.panes.items() if isinstance(pane, BrokenPane)}

    def _refresh_pickers(self) -> None:
        for pane in self.panes.values():
            picker = pane.model_picker()
            if picker is not None:
                picker.refresh()

    # --- hardware ---------------------------------------------------------------------
    def _on_hardware(self, hardware) -> None:
        self.hardware = hardware
        self.hw_label.setText(hardware.summary())
        self.hw_label.setToolTip(hardware.to_text())
        for pane in self.panes.values():
            pane.set_hardware(hardware)
        if self._hardware_dialog is not None:
            self._hardware_dialog.show_hardware(hardware)
        self.hardware_ready.emit(hardware)

    def show_hardware(self) -> None:
        from app.gui.dialogs.hardware import HardwareDialog

        if self._hardware_dialog is None:
            self._hardware_dialog = HardwareDialog(self.hardware, self)
            self._hardware_dialog.refresh_requested.connect(self.detect_hardware_again)
        self._hardware_dialog.show()
        self._hardware_dialog.raise_()

    def detect_hardware_again(self) -> None:
        """Detection is cached per process; the dialog asks for a fresh one (a new driver, a new package)."""
        self.worker.submit(_detect_hardware, True, on_result=self._on_hardware, name="detect-hardware")

    # --- shutdown ---------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Quitting never blocks the GUI thread: the window hides, each worker closes its model on its
        own thread, and the window closes for real once all have ended (or after QUIT_WAIT_MS)."""
        if self._ending is None:
            self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
            try:
                save_settings(self.settings)
            except OSError as exc:
                log.error("could not save settings: %s", exc)
            self._ending = [w for w in self.finish_workers() if w.running()]
            for worker in self._ending:
                worker.ended.connect(self._worker_ended)
            if self._ending:
                QTimer.singleShot(QUIT_WAIT_MS, self._give_up_waiting)
        if self._ending:
            event.ignore()
            self.hide()
            return
        super().closeEvent(event)
        self.closed.emit()

    def _worker_ended(self) -> None:
        self._ending = [w for w in self._ending if w.running()]
        if not self._ending:
            self.close()

    def _give_up_waiting(self) -> None:
        if self._ending:
            log.warning("quitting with workers still busy: %s", ", ".join(w.name for w in self._ending))
            self._ending = []
            self.close()

    def finish_workers(self) -> list[SerialWorker]:
        """Never blocks: asks every worker to end; returns them."""
        self.worker.finish()
        ending = [self.worker]
        if self.server_switch is not None:
            ending.append(self.server_switch.finish())
        if self.find_box is not None:
            ending.append(self.find_box.worker.finish())
        for pane in self.panes.values():
            ending += pane.finish_workers()
        return ending

    def stop_workers(self, timeout_ms: int = QUIT_WAIT_MS) -> None:
        """Ends every worker and joins them (blocks): for tests and after the event loop has ended."""
        for worker in self.finish_workers():
            worker.wait(timeout_ms)
