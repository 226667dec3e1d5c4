"""The Documents pane: document folders (added by button or drop, watched), indexing, and search by
question or keyword over the passages.

The folders panel is docs/folders.py, the search panel docs/results.py; here they are put side by
side with the empty states: no embedding model yet, or no folders yet."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QWidget

from app.gui.docs.folders import FoldersPanel
from app.gui.docs.results import ResultsPanel
from app.gui.docs.worker import DocsWorker
from app.gui.panes.base import ModelBackedPane
from app.gui.widgets.empty_state import EmptyState

log = logging.getLogger(__name__)
NO_FOLDERS = "Drop a folder of documents here or Add folder…"
NO_MODEL = ("Documents are searched with a text-embedding model, and none is installed yet. Get "
            "all-MiniLM-L6-v2 (Hearth's starter embedding model, 46 MB) or import an embedding .gguf on the "
            "Models page.")


class DocsPane(FoldersPanel, ResultsPanel, ModelBackedPane):
    kind, title = "embedding", "Documents"
    blurb = "Ask a question to find the passage that answers it in your notes, letters and manuals."
    results_ready = Signal(int)
    index_finished = Signal(object)  # a DocSummary, an exception, or None (cancelled)
    folders_shown = Signal()

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        self.setObjectName("documentsPane")
        self.setAccessibleName("Documents pane")
        self.setAcceptDrops(True)
        self.docs = DocsWorker(self)
        self.index_job = None
        self.last_summary = None
        self.folder_paths: list[str] = []

        row = QHBoxLayout()
        left = QWidget()
        left.setLayout(self._build_folders())
        left.layout().setContentsMargins(0, 0, 0, 0)
        left.setMaximumWidth(320)
        row.addWidget(left)
        self.stack = QStackedWidget()
        self.empty = EmptyState(NO_FOLDERS, "&Add folder…", "folder")
        self.no_model = EmptyState(NO_MODEL, "Open &Models…", "models")
        search = QWidget()
        search.setLayout(self._build_search())
        search.layout().setContentsMargins(0, 0, 0, 0)
        for page in (self.empty, self.no_model, search):
            self.stack.addWidget(page)
        self.search_page = search
        row.addWidget(self.stack, 1)
        self.body.addLayout(row, 1)
        self._build_watcher()
        self._connect()
        self._set_indexing(False)
        self.update_empty()
        self.refresh_folders()

    def _connect(self) -> None:
        self.add_folder.clicked.connect(self._ask_folder)
        self.empty.button.clicked.connect(self._ask_folder)
        self.no_model.button.clicked.connect(self.picker.manage_requested)
        self.remove_folder.clicked.connect(self._remove_selected)
        self.index_button.clicked.connect(lambda: self.start_index())
        self.cancel_button.clicked.connect(self._cancel)
        self.picker.refreshed.connect(self._model_changed)
        self.picker.changed.connect(lambda _id: self._model_changed())

    def _model_changed(self) -> None:
        """A model installed (or chosen) since: index what waits with it."""
        self.update_empty()
        if self.picker.current() and self.folder_paths:
            self.start_index(quiet=True)

    def update_empty(self) -> None:
        """What the right side shows: the model to get, the folders to add, or the search."""
        if not self.picker.current():
            page = self.no_model
        elif not self.folder_paths:
            page = self.empty
        else:
            page = self.search_page
        self.stack.setCurrentWidget(page)
        self.picker.status.setVisible(page is not self.no_model)  # the card says it; not twice
        self.index_button.setEnabled(bool(self.picker.current() and self.folder_paths)
                                     and (self.index_job is None or self.index_job.done))

    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        """A folder is added; a file adds the folder it is in (its documents are indexed together)."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        folders = []
        for p in paths:
            folder = p if os.path.isdir(p) else os.path.dirname(p) if os.path.isfile(p) else ""
            if folder and folder not in folders:
                folders.append(folder)
        if not folders:
            return
        event.acceptProposedAction()
        self.add_folders(folders)

    def finish_workers(self) -> list:
        self.reindex_timer.stop()
        self.search_timer.stop()
        if self.index_job is not None:
            self.index_job.cancel()
        return [self.docs.finish()]
