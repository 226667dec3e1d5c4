"""The Models page: what can be had, what is installed, downloads and imports."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
)

from app.core.jobs import HearthError
from app.core.models.store import KINDS, ModelStore
from app.gui.models.downloads import DownloadManager
from app.gui.models.imports import ImportsMixin
from app.gui.models.table import ModelTable, Row, human
from app.gui.panes.base import Pane, button
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)
TAB_TITLES = {"chat": "Chat", "images": "Images", "speech": "Speech"}


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
        layout.addWidget(self._build_tabs(), 1)
        self.speed_basis = QLabel()  # how the selected tab's speeds were estimated
        self.speed_basis.setObjectName("speedBasis")
        self.speed_basis.setWordWrap(True)
        layout.addWidget(self.speed_basis)
        actions, more = self._build_action_rows()
        layout.addLayout(actions)
        layout.addLayout(more)
        layout.addLayout(self._build_import_row())
        layout.addLayout(self._build_hub_row())
        self._build_found(layout)
        self.message = QLabel()
        self.message.setObjectName("modelsMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes servers' errors: never HTML
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self._connect()
        self.refresh()
        self._discover()
        self.downloads.recover()

    # --- building ------------------------------------------------------------------------
    def _build_tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Model kinds")
        self.tables: dict[str, ModelTable] = {}
        for kind in KINDS:
            table = ModelTable(kind)
            self.tables[kind] = table
            self.tabs.addTab(table, TAB_TITLES[kind])
        return self.tabs

    def _build_action_rows(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """The buttons for the selected model, and (second row) the imports that follow them."""
        row, row2 = QHBoxLayout(), QHBoxLayout()
        self.buttons = {}
        for key, text, name in (
            ("download", "&Download", "Download model"),
            ("pause", "&Pause", "Pause download"),
            ("resume", "Res&ume", "Resume download"),
            ("cancel", "&Cancel", "Cancel download"),
            ("delete", "De&lete", "Delete model"),
            ("default", "Use by de&fault", "Use this model by default"),
            ("folder", "Show in fol&der", "Show in folder"),
        ):
            b = QPushButton(text)
            b.setAccessibleName(name)
            (row2 if key in ("default", "folder") else row).addWidget(b)
            self.buttons[key] = b
        row.addStretch(1)
        self.import_file = button("Import &file…", "Import model file")
        self.import_folder = button("Import f&older…", "Import model folder")
        row2.addWidget(self.import_file)
        row2.addWidget(self.import_folder)
        row2.addStretch(1)
        return row, row2

    def _connect(self) -> None:
        for table in self.tables.values():
            table.itemSelectionChanged.connect(self._update_buttons)
        self.tabs.currentChanged.connect(self._update_buttons)
        self.tabs.currentChanged.connect(self._show_speed_basis)
        self.buttons["download"].clicked.connect(self.download_selected)
        self.buttons["pause"].clicked.connect(lambda: self._with_selected(self.downloads.pause))
        self.buttons["resume"].clicked.connect(self.download_selected)
        self.buttons["cancel"].clicked.connect(lambda: self._with_selected(self.downloads.cancel))
        self.buttons["delete"].clicked.connect(self._delete_selected)
        self.buttons["default"].clicked.connect(self._make_default)
        self.buttons["folder"].clicked.connect(self._show_in_folder)
        self.import_file.clicked.connect(lambda: self._ask_import(folder=False))
        self.import_folder.clicked.connect(lambda: self._ask_import(folder=True))
        self.download_url.clicked.connect(self._ask_url)
        self.move_folder.clicked.connect(self._ask_move)
        self.add_server.clicked.connect(self._ask_server)
        self.endpoint.editingFinished.connect(self._save_hub)
        self.access_token.editingFinished.connect(self._save_hub)
        self.found.itemActivated.connect(self._use_found)
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
        self.refresh()
        try:
            empty = not ModelStore().list()
        except HearthError:
            empty = False
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
        self.tabs.setCurrentIndex(0)
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
        from app.core.models import speed

        if self.hardware is None:
            self.speed_basis.clear()
            return
        kind = KINDS[self.tabs.currentIndex()]
        self.speed_basis.setText(f"Speed estimates: {speed.basis(kind, self.hardware)}.")

    def refresh(self) -> None:
        from app.core.models.overview import build_rows
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
        for kind, table in self.tables.items():
            table.set_rows([Row.of(r, estimated=self.hardware is not None) for r in rows if r.kind == kind])
        self._show_speed_basis()
        used = sum(e.size for e in installed)
        self.summary.setText(
            f"{len(installed)} installed, {human(used)} in {store.root}. "
            "Downloads resume where they stopped and are checked before use."
        )
        self._update_buttons()

    # --- selection ------------------------------------------------------------------------
    def current_table(self) -> ModelTable:
        return self.tables[KINDS[self.tabs.currentIndex()]]

    def selected(self) -> Row | None:
        table = self.current_table()
        model_id = table.selected_id()
        return table.row_of(model_id) if model_id else None

    def select(self, model_id: str) -> None:
        for i, kind in enumerate(KINDS):
            if self.tables[kind].row_of(model_id):
                self.tabs.setCurrentIndex(i)
                self.tables[kind].select(model_id)

    def _with_selected(self, fn) -> None:
        row = self.selected()
        if row:
            fn(row.id)

    def _update_buttons(self) -> None:
        row = self.selected()
        status = row.status if row else None
        waiting = status in ("failed", "offline")
        retry_url = waiting and row is not None and bool(getattr(self.downloads.states().get(row.id), "url", ""))
        self.buttons["download"].setEnabled(
            (status in ("available", "failed", "offline") and bool(row and row.catalog)) or retry_url)
        self.buttons["download"].setText("&Retry" if waiting else "&Download")
        self.buttons["pause"].setEnabled(status == "running")
        self.buttons["resume"].setEnabled(status == "paused")
        self.buttons["cancel"].setEnabled(status in ("running", "paused", "failed", "offline"))
        # A failed or waiting row is cleared (forgotten, its partial files removed), not cancelled.
        self.buttons["cancel"].setText("Cl&ear" if waiting else "&Cancel")
        self.buttons["delete"].setEnabled(status == "installed")
        self.buttons["default"].setEnabled(status == "installed")
        self.buttons["folder"].setEnabled(status == "installed")

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
        self.downloads.start(row.id, self.current_table().kind)

    def _on_progress(self, model_id: str, p) -> None:
        for table in self.tables.values():
            table.show_progress(model_id, p)

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
            self.settings.default_models[self.current_table().kind] = row.id
            self.message.setText(f"{row.id} is now the default {self.current_table().kind} model.")
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
