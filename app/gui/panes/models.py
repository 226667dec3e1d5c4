"""The Models pane: installed models, import and removal."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import HearthError
from app.core.models.store import KINDS, ModelStore
from app.gui.workers import SerialWorker

COLUMNS = ("Id", "Kind", "Size", "Format", "Source", "Verified")


def _import_job(token, report, path: str, kind: str, mode: str):
    return ModelStore().import_path(path, kind, mode=mode)


class ModelsPane(QWidget):
    kind, title = "models", "Models"
    store_changed = Signal()

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("modelsPane")
        self.setAccessibleName("Models pane")
        self.worker = SerialWorker("models-worker", self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Models</h2>"))
        self.summary = QLabel()
        self.summary.setObjectName("modelsSummary")
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setAccessibleName("Installed models")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.import_file = QPushButton("Import &file…")
        self.import_file.setAccessibleName("Import model file")
        self.import_folder = QPushButton("Import f&older…")
        self.import_folder.setAccessibleName("Import model folder")
        self.remove = QPushButton("&Remove")
        self.remove.setAccessibleName("Remove model")
        for b in (self.import_file, self.import_folder, self.remove):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        self.message = QLabel()
        self.message.setObjectName("modelsMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.import_file.clicked.connect(lambda: self._ask_import(folder=False))
        self.import_folder.clicked.connect(lambda: self._ask_import(folder=True))
        self.remove.clicked.connect(self._remove_selected)
        self.refresh()

    def refresh(self) -> None:
        try:
            entries = ModelStore().list()
        except HearthError as exc:
            self.message.setText(str(exc))
            entries = []
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            cells = (e.id, e.kind, f"{e.size / 2**20:.1f} MB", e.format, e.source, "yes" if e.verified else "no")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, e.id)
                self.table.setItem(r, c, item)
        total = sum(e.size for e in entries)
        self.summary.setText(f"{len(entries)} installed, {total / 2**30:.2f} GB on disk")

    def start_import(self, path: str, kind: str, mode: str = "copy"):
        self.message.setText(f"Importing {path}…")
        return self.worker.submit(
            _import_job, path, kind, mode, on_result=self._imported, on_error=self._failed, name="import"
        )

    def _ask_import(self, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Import a faster-whisper model folder")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "Models (*.gguf *.safetensors *.pt)")
        if not path:
            return
        kind, ok = QInputDialog.getItem(self, "Model kind", "What kind of model is it?", list(KINDS), 0, False)
        if ok:
            self.start_import(path, kind)

    def _imported(self, entry) -> None:
        self.message.setText(f"Imported {entry.id}.")
        self.refresh()
        self.store_changed.emit()

    def _failed(self, exc) -> None:
        self.message.setText(f"Could not import: {exc}")

    def shutdown(self) -> None:
        self.worker.stop()

    def _remove_selected(self) -> None:
        items = self.table.selectedItems()
        if not items:
            self.message.setText("Select a model to remove.")
            return
        model_id = items[0].data(Qt.ItemDataRole.UserRole)
        answer = QMessageBox.question(self, "Remove model", f"Delete {model_id} and its files?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            ModelStore().remove(model_id)
        except HearthError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Removed {model_id}.")
        self.refresh()
        self.store_changed.emit()
