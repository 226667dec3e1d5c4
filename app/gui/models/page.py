"""The Models page: what can be had, what is installed, downloads and imports."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
)

from app.core.jobs import HearthError
from app.core.models.store import KINDS, ModelStore
from app.core.settings import HUB_ENDPOINT, save_settings
from app.gui.models.downloads import DownloadManager
from app.gui.models.table import ModelTable, Row, human
from app.gui.panes.base import Pane, button, hbox
from app.gui.widgets.placeholder_list import PlaceholderList
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)
TAB_TITLES = {"chat": "Chat", "images": "Images", "speech": "Speech"}


def _import_job(cancel, progress, path: str, kind: str, mode: str, arch: str, projector: str = ""):
    return ModelStore().import_path(path, kind, mode=mode, architecture=arch, projector=projector or None)


def _move_job(cancel, progress, new_root: str):
    store = ModelStore()
    store.move_to(Path(new_root), progress=progress)
    return str(store.root)


class ModelsPane(Pane):
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

    def _build_import_row(self) -> QHBoxLayout:
        self.download_url = button("Download from &URL…", "Download from URL")
        self.move_folder = button("&Move models folder…", "Move models folder")
        self.add_server = button("Add ser&ver…", "Add a remote chat server")
        return hbox(self.download_url, self.move_folder, self.add_server, stretch=True)

    def _build_hub_row(self) -> QHBoxLayout:
        self.endpoint = QLineEdit(self.settings.hf_endpoint)
        self.endpoint.setAccessibleName("Hub address")
        self.access_token = QLineEdit(self.settings.hf_token)
        self.access_token.setAccessibleName("Access token")
        self.access_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.access_token.setPlaceholderText("access token, for gated models")
        hub_row = QHBoxLayout()
        hub_row.addWidget(QLabel("Hub:"))
        hub_row.addWidget(self.endpoint, 2)
        hub_row.addWidget(self.access_token, 1)
        return hub_row

    def _build_found(self, layout: QVBoxLayout) -> None:
        layout.addWidget(QLabel("Found in the Hugging Face cache (used in place, nothing copied):"))
        self.found = PlaceholderList("No models found in the Hugging Face cache")
        self.found.setAccessibleName("Models found on this computer")
        self.found.setMaximumHeight(90)
        layout.addWidget(self.found)

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

    def _discover(self) -> None:
        from app.core.models.hf_cache import discover

        self.found.clear()
        for d in discover():
            item = QListWidgetItem(f"{d.repo} · {d.kind} · {human(d.size)} · {d.path.name}")
            item.setData(256, (str(d.path), d.kind))
            self.found.addItem(item)

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

    def _save_hub(self) -> None:
        self.settings.hf_endpoint = self.endpoint.text().strip() or HUB_ENDPOINT
        self.settings.hf_token = self.access_token.text().strip()
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.message.setText(f"Could not save settings: {exc}")

    # --- imports --------------------------------------------------------------------------
    def start_import(self, path: str, kind: str, mode: str = "copy", arch: str = "", projector: str = ""):
        """``projector``: a vision model's mmproj, imported with the chat model as one model."""
        self.message.setText(f"Importing {path}…" + (" with its projector" if projector else ""))
        return self.worker.submit(
            _import_job, path, kind, mode, arch, projector, on_result=self._imported, on_error=self._failed,
            name="import",
        )

    def _ask_import(self, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Import a faster-whisper model folder")
        else:
            picked, _ = QFileDialog.getOpenFileNames(
                self, "Import a model (for a vision model, select the .gguf and its mmproj together)", "",
                "Models (*.gguf *.safetensors *.pt)")
            try:
                from app.core.models.projector import split_pair

                path, projector = split_pair(picked)
            except HearthError as exc:
                self.message.setText(str(exc))
                return
        if not path:
            return
        kind = "speech" if folder else ("chat" if path.endswith(".gguf") else "images")
        arch = ""
        if kind == "images":
            arch, ok = QInputDialog.getText(self, "OpenCLIP architecture", "Architecture (for example ViT-B-32):")
            if not ok:
                return
        modes = ["copy", "move", "link"]
        mode, ok = QInputDialog.getItem(self, "Import", "Copy it, move it, or use it where it is (link)?",
                                        modes, 0, False)
        if ok:
            self.start_import(path, kind, mode, arch, projector="" if folder else projector)

    def _ask_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Download from URL", "https URL of a .gguf or CLIP checkpoint:")
        if not ok or not url.strip():
            return
        kind = "chat" if url.strip().lower().split("?")[0].endswith(".gguf") else "images"
        from app.core.models.store import slugify

        name = slugify(Path(url.split("?")[0]).stem)
        self.downloads.start(name, kind, url.strip())

    def _use_found(self, item) -> None:
        path, kind = item.data(256)
        self.start_import(path, kind, "link")

    def _imported(self, entry) -> None:
        note = "" if entry.verified else " (unverified)"
        self.message.setText(f"Imported {entry.id}{note}.")
        self.refresh()
        self.store_changed.emit()

    def _failed(self, exc) -> None:
        self.message.setText(f"Could not import: {exc}")

    def _ask_move(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Move the models folder to an empty folder")
        if path:
            self.move_models(path)

    def move_models(self, new_root: str):
        self.message.setText(f"Moving models to {new_root}…")

        def moved(root: str) -> None:
            self.settings.models_dir = root
            save_settings(self.settings)
            self.message.setText(f"Models now live in {root}.")
            self.refresh()
            self.store_changed.emit()

        return self.worker.submit(_move_job, new_root, on_result=moved, on_error=self._failed, name="move-models")

    # --- remote servers ---------------------------------------------------------------------
    def _ask_server(self) -> None:
        from app.gui.models.servers import AddServerDialog

        dialog = AddServerDialog(self)
        if dialog.exec():
            self.add_remote_server(*dialog.values())

    def add_remote_server(self, name: str, url: str, key: str = ""):
        from app.gui.models.servers import add_server_job, added_message

        def added(result) -> None:
            self.message.setText(added_message(*result))
            self.store_changed.emit()

        self.message.setText(f"Adding {name}…")
        return self.worker.submit(add_server_job, name, url, key, on_result=added, name="add-server",
                                  on_error=lambda exc: self.message.setText(f"Could not add the server: {exc}"))

    def finish_workers(self) -> list:
        self.worker.finish()
        return [self.worker, *self.downloads.finish_all()]
