"""The Images pane: photo folders, indexing, and search by words or by picture.

The folders panel is images/folders.py, the results panel images/results_panel.py; here they are put
side by side, and a drop goes to the one it is for (a folder is added, a picture searched by)."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout

from app.gui.images.duplicates import DuplicatesAction
from app.gui.images.folders import FoldersPanel
from app.gui.images.results import ResultsModel
from app.gui.images.results_panel import ResultsPanel
from app.gui.images.worker import ImagesWorker
from app.gui.panes.base import ModelBackedPane

log = logging.getLogger(__name__)


class ImagesPane(FoldersPanel, ResultsPanel, DuplicatesAction, ModelBackedPane):
    kind, title = "images", "Images"
    blurb = "Search your photo folders by describing what is in them, or by dropping in a picture."
    results_ready = Signal(int)
    index_finished = Signal(object)
    ask_in_chat = Signal(list)  # picture paths for the chat to attach
    duplicates_shown = Signal(object)  # the duplicates dialog, or None when there were none
    duplicates_removed = Signal(object)  # what went to the trash (app.core.images.cleanup.Removal)

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        self.setAcceptDrops(True)
        self.images = ImagesWorker(self)
        self.index_job = None
        self.search_job = None
        self.last_summary = None
        self.pausing = False  # the running index job was stopped by Pause, not Cancel
        self.results = ResultsModel(self)  # the hits shown in the grid, with lazy thumbnails
        self.results.thumbnail_ready.connect(self._query_thumbnail_ready)
        self._query_path: str | None = None  # the file searched by, whose thumbnail is awaited
        self.all_hits: list = []  # the last search's hits; the threshold filters these live
        self._menu_ref = None

        row = QHBoxLayout()
        folders = self._build_folders()
        folders.addWidget(self._build_duplicates())
        row.addLayout(folders)
        row.addLayout(self._build_search(), 1)
        self.body.addLayout(row, 1)
        self._build_watcher()
        self._connect()
        self._set_indexing(False)
        self.refresh_folders()

    # --- building ------------------------------------------------------------------------
    def _connect(self) -> None:
        self.add_folder.clicked.connect(self._ask_folder)
        self.empty.button.clicked.connect(self._ask_folder)
        self.skipped_button.clicked.connect(lambda: self.images.skipped_files(on_result=self.show_skipped))
        self.remove_folder.clicked.connect(self._remove_selected)
        self.index_button.clicked.connect(self.start_index)
        self.pause_button.clicked.connect(self._pause)
        self.cancel_button.clicked.connect(self._cancel)
        self.search_button.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)
        self.filter_bar.place.returnPressed.connect(self.search)
        self.grid.doubleClicked.connect(self._open)
        self.grid.customContextMenuRequested.connect(self._menu)
        # Ctrl+V anywhere in this pane searches by the pasted picture (the Chat pane's paste is its own).
        paste = QShortcut(QKeySequence.StandardKey.Paste, self, self._paste)
        paste.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.preview_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self.grid, self.preview_current)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.grid.selectionModel().selectionChanged.connect(
            lambda *_: self.ask_button.setEnabled(bool(self.selected_paths())))
        self.results.modelReset.connect(lambda: self.ask_button.setEnabled(False))
        self.ask_button.clicked.connect(lambda: self._ask(self.selected_paths()))

    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        mime: QMimeData = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        folders = [f for f in files if os.path.isdir(f)]
        pictures = [f for f in files if os.path.isfile(f)]
        event.acceptProposedAction()
        if folders:
            self.add_folders(folders)
        if pictures:
            self.search(images=pictures)
        elif mime.hasImage():
            self._search_qimage(QImage(mime.imageData()))

    def finish_workers(self) -> list:
        if self.index_job is not None:
            self.index_job.cancel()
        self.results.pool.clear()  # thumbnails not started yet; the running few end on their own
        return [self.images.finish()]

    def shutdown(self, timeout_ms: int = 10000) -> None:
        super().shutdown(timeout_ms)
        self.results.pool.waitForDone(timeout_ms)
