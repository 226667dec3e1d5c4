"""The Models page: what can be had, what is installed, downloads and imports."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QMessageBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.core.jobs import HearthError
from app.core.models.store import ModelStore
from app.gui.models.cards import ModelList, Row, human
from app.gui.models.details import DetailsPanel
from app.gui.models.downloads import DownloadManager
from app.gui.models.filters import FilterBar
from app.gui.models.imports import IMPORT_HINT, ImportsMixin
from app.gui.panes.base import Pane, button
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)


class ModelsPane(ImportsMixin, Pane):
    kind, title = "models", "Models"
    store_changed = Signal()

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("modelsPane")
        self.setAccessibleName("Models pane")
        self.worker = SerialWorker("models-worker", self)
        self.downloads = DownloadManager(settings, self)
        self.hardware = None  # app.core.hardware.HardwareReport, once detected
        self._catalog = None

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Models</h2>"))
        self.summary = QLabel()
        self.summary.setObjectName("modelsSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.ask_hint = QLabel()  # which model to pick for Ask Hearth here, once the hardware is known
        self.ask_hint.setObjectName("modelsAskHint")
        self.ask_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.ask_hint.setWordWrap(True)
        self.ask_hint.hide()
        layout.addWidget(self.ask_hint)
        self.filters = FilterBar()
        layout.addWidget(self.filters)
        layout.addWidget(self._build_browser(), 1)
        self.message = QLabel()
        self.message.setObjectName("modelsMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes servers' errors: never HTML
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self._build_ways_in(layout)
        self._connect()
        self.refresh()
        self._discover()
        self._show_more(False)
        self.downloads.recover()

    # --- building ------------------------------------------------------------------------
    def _build_browser(self) -> QSplitter:
        """The list of cards, and the selected model's details and actions beside it."""
        self.browser = ModelList()
        self.details = DetailsPanel()
        self.buttons = self.details.buttons
        self.speed_basis = self.details.speed_basis
        scroll = QScrollArea()
        scroll.setObjectName("modelDetailsScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.details)
        scroll.setMinimumWidth(300)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.browser)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.browser.setMinimumWidth(320)
        return splitter

    def _build_ways_in(self, layout: QVBoxLayout) -> None:
        """Importing, a URL, a server: one row; the hub, the models folder and the Hugging Face
        cache's finds behind "More"."""
        hint = QLabel(IMPORT_HINT)
        hint.setObjectName("importHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.import_file = button("Import &file…", "Import model file")
        self.import_folder = button("Import f&older…", "Import model folder")
        row = self._build_import_row()  # Download from URL, Move models folder, Add server
        row.insertWidget(0, self.import_folder)
        row.insertWidget(0, self.import_file)
        self.more = button("More ▸", "More ways to add models")
        self.more.setCheckable(True)
        row.addWidget(self.more)
        layout.addLayout(row)
        self.more_panel = QWidget()
        self.more_panel.setObjectName("modelsMore")
        more = QVBoxLayout(self.more_panel)
        more.setContentsMargins(0, 0, 0, 0)
        more.addLayout(self._build_hub_row())
        self._build_found(more)
        self.more_panel.hide()
        layout.addWidget(self.more_panel)

    def _connect_ways_in(self) -> None:
        self.import_file.clicked.connect(lambda: self._ask_import(folder=False))
        self.import_folder.clicked.connect(lambda: self._ask_import(folder=True))
        self.download_url.clicked.connect(self._ask_url)
        self.move_folder.clicked.connect(self._ask_move)
        self.add_server.clicked.connect(self._ask_server)
        self.endpoint.editingFinished.connect(self._save_hub)
        self.access_token.editingFinished.connect(self._save_hub)
        self.found.itemActivated.connect(self._use_found)
        self.more.toggled.connect(self._show_more)

    def _show_more(self, on: bool) -> None:
        self.more_panel.setVisible(on)
        found = self.found.count()
        self.more.setText(("More ▾" if on else "More ▸") + (f" ({found} found)" if found and not on else ""))

    def _connect(self) -> None:
        self.browser.itemSelectionChanged.connect(self._update_buttons)
        self.filters.changed.connect(self._apply_filters)
        self.buttons["download"].clicked.connect(self.download_selected)
        self.buttons["pause"].clicked.connect(lambda: self._with_selected(self.downloads.pause))
        self.buttons["resume"].clicked.connect(self.download_selected)
        self.buttons["cancel"].clicked.connect(lambda: self._with_selected(self.downloads.cancel))
        self.buttons["delete"].clicked.connect(self._delete_selected)
        self.buttons["default"].clicked.connect(self._make_default)
        self.buttons["folder"].clicked.connect(self._show_in_folder)
        self._connect_ways_in()
        self.downloads.progress.connect(self._on_progress)
        self.downloads.state_changed.connect(self._on_state)
        self.downloads.installed.connect(self._on_installed)

    # --- data ---------------------------------------------------------------------------
    def catalog(self):
        if self._catalog is None:
            from app.core.models.catalog import load_catalog

            try:
                self._catalog = load_catalog()
            except HearthError as exc:
                self.message.setText(str(exc))
                self._catalog = []
        return self._catalog

    def set_hardware(self, hardware) -> None:
        self.hardware = hardware
        try:
            empty = not ModelStore().list()
        except HearthError:
            empty = False
        # A page the window is not showing is refreshed by its showEvent: building ~100 cards here took
        # 100+ ms of the GUI thread, while the user may be sending a message in Chat.
        if empty or self.isVisible() or self.window() is self:
            self.refresh()
        if empty:
            self.recommend(hardware)

    def recommend(self, hardware) -> str | None:
        """With nothing installed: the largest chat model that fits and runs comfortably fast here."""
        from app.core.models import speed
        from app.core.models.fit import estimate_entry_fit

        best = speed.recommend(self.catalog(), hardware, "chat")
        if best is None:
            return None
        fit = estimate_entry_fit(best, hardware)
        estimate = speed.estimate("chat", best.size, hardware, fit)
        self.filters.clear()
        self.select(best.id)
        self.message.setText(
            f"No models yet. Recommended for this computer: {best.name} ({human(best.size)}, {fit.message}, "
            f"{estimate.text()}: {estimate.how}). Select it and press Download."
        )
        return best.id

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A transcription or an index run elsewhere may have measured this machine since: fresh estimates."""
        super().showEvent(event)
        if self.hardware is not None:
            self.refresh()

    def _show_speed_basis(self) -> None:
        """How this kind's speeds were estimated: the kind shown, else the selected model's."""
        from app.core.models import speed

        row = self.selected()
        kind = self.filters.kind() or (row.kind if row else "chat")
        if self.hardware is None:
            self.speed_basis.clear()
            return
        self.speed_basis.setText(f"Speed estimates: {speed.basis(kind, self.hardware)}.")

    def refresh(self) -> None:
        from app.core.models.overview import ask_advice, build_rows
        from app.core.models.records import take_notices

        try:
            store = ModelStore()
            installed = store.list()
        except HearthError as exc:
            self.message.setText(str(exc))
            return
        notices = take_notices()  # a registry or queue file that was set aside, said once
        if notices:
            self.message.setText(" ".join(notices))
        rows = build_rows(self.catalog(), installed, self.downloads.states().values(), self.hardware)
        self.browser.set_rows([Row.of(r, estimated=self.hardware is not None) for r in rows])
        used = sum(e.size for e in installed)
        held = f"{len(installed)} installed, {human(used)} in {store.root}" if installed else \
            f"Nothing installed yet; models go to {store.root}"
        self.summary.setText(f"{held}. Downloads resume where they stopped and are checked before use.")
        self.ask_hint.setText(ask_advice(self.catalog(), {e.id for e in installed}, self.hardware))
        self.ask_hint.setVisible(bool(self.ask_hint.text()))
        self._apply_filters()

    def _apply_filters(self) -> None:
        shown = self.browser.apply_filter(self.filters.keep)
        self.filters.show_count(shown, len(self.browser.rows))
        self._update_buttons()

    # --- selection ------------------------------------------------------------------------
    def selected(self) -> Row | None:
        model_id = self.browser.selected_id()
        return self.browser.row_of(model_id) if model_id else None

    def select(self, model_id: str) -> None:
        """Selects the model's card; filters that hide it are cleared first."""
        if self.browser.row_of(model_id) is None:
            return
        if not self.browser.is_shown(model_id):
            self.filters.clear()
        self.browser.select(model_id)

    def _with_selected(self, fn) -> None:
        row = self.selected()
        if row:
            fn(row.id)

    def _update_buttons(self) -> None:
        row = self.selected()
        waiting = row is not None and row.status in ("failed", "offline")
        retry_url = waiting and bool(getattr(self.downloads.states().get(row.id), "url", ""))
        self.details.show_row(row)
        is_default = row is not None and self.settings.default_models.get(row.kind) == row.id
        self.details.set_actions(row, retry_url, is_default)
        self._show_speed_basis()

    # --- actions --------------------------------------------------------------------------
    def download_selected(self) -> None:
        row = self.selected()
        if row is None:
            self.message.setText("Select a model to download.")
            return
        item = self.downloads.states().get(row.id)
        if item is not None and item.url:  # a failed "Download from URL": try the same URL again
            self.downloads.start(row.id, item.kind, item.url, item.architecture)
            return
        self.downloads.start(row.id, row.kind)

    def _on_progress(self, model_id: str, p) -> None:
        self.browser.show_progress(model_id, p)

    def _on_state(self, model_id: str, state: str, message: str) -> None:
        if message:
            self.message.setText(f"{model_id}: {message}")
        self.refresh()

    def _on_installed(self, model_id: str) -> None:
        self.refresh()
        self.store_changed.emit()

    def _delete_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        answer = QMessageBox.question(self, "Delete model", f"Delete {row.id} and its files?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.delete(row.id)

    def delete(self, model_id: str) -> None:
        try:
            ModelStore().remove(model_id)
        except HearthError as exc:
            self.message.setText(str(exc))
            return
        for kind, chosen in list(self.settings.default_models.items()):
            if chosen == model_id:
                del self.settings.default_models[kind]
        self.message.setText(f"Deleted {model_id}.")
        self.refresh()
        self.store_changed.emit()

    def _make_default(self) -> None:
        row = self.selected()
        if row:
            self.settings.default_models[row.kind] = row.id
            self.message.setText(f"{row.id} is now the default {row.kind} model.")
            self._update_buttons()
            self.store_changed.emit()

    def _show_in_folder(self) -> None:
        row = self.selected()
        if row:
            store = ModelStore()
            entry = store.get(row.id)
            if entry:
                path = store.path_of(entry)
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(path if path.is_dir() else path.parent)))

    def finish_workers(self) -> list:
        self.worker.finish()
        return [self.worker, *self.downloads.finish_all()]
