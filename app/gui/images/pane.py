"""The Images pane: photo folders, indexing, and search by words or by picture."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSlider,
    QVBoxLayout,
)

from app.core.db import DamagedDatabaseError
from app.core.images.scan import display_path
from app.core.jobs import HearthError
from app.gui import theme
from app.gui.images.reading import read_picture
from app.gui.images.results import CELL, THUMB, ResultsModel
from app.gui.images.worker import ImagesWorker
from app.gui.panes.base import ModelBackedPane, button, hbox
from app.gui.widgets.empty_state import EmptyState
from app.gui.widgets.placeholder_list import PlaceholderList

log = logging.getLogger(__name__)



class ImagesPane(ModelBackedPane):
    kind, title = "images", "Images"
    blurb = "Search your photo folders by describing what is in them, or by dropping in a picture."
    results_ready = Signal(int)
    index_finished = Signal(object)
    ask_in_chat = Signal(list)  # picture paths for the chat to attach

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
        row.addLayout(self._build_folders())
        row.addLayout(self._build_search(), 1)
        self.body.addLayout(row, 1)
        self._build_watcher()
        self._connect()
        self._set_indexing(False)
        self.refresh_folders()

    # --- building ------------------------------------------------------------------------
    def _build_folders(self) -> QVBoxLayout:
        self.folder_list = PlaceholderList("No photo folders yet")
        self.folder_list.setObjectName("folderList")
        self.folder_list.setAccessibleName("Photo folders")
        self.folder_list.setMaximumWidth(280)
        self.folder_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long path keeps both ends
        self.folder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QVBoxLayout()
        left.addWidget(QLabel("Folders"))
        left.addWidget(self.folder_list, 1)
        self.add_folder = button("&Add…", "Add a photo folder")
        self.remove_folder = button("Remove", "Remove the photo folder")
        left.addLayout(hbox(self.add_folder, self.remove_folder))
        self.index_button = button("&Index", "Index the folders")
        self.pause_button = button("Pause", "Pause indexing")
        self.cancel_button = button("Cancel", "Cancel indexing")
        left.addLayout(hbox(self.index_button, self.pause_button, self.cancel_button))
        self.index_progress = QProgressBar()
        self.index_progress.setAccessibleName("Indexing progress")
        self.index_progress.hide()  # shown from the first indexing on (empty, it read as a blank field)
        left.addWidget(self.index_progress)
        self.index_status = QLabel()
        self.index_status.setObjectName("indexStatus")
        self.index_status.setWordWrap(True)
        left.addWidget(self.index_status)
        self.skipped_button = button("Show skipped files…", "Show the skipped files")
        self.skipped_button.hide()
        left.addWidget(self.skipped_button)
        return left

    def _build_search(self) -> QVBoxLayout:
        self.query = QLineEdit()
        self.query.setObjectName("imageQuery")
        self.query.setAccessibleName("Search photos")
        self.query.setPlaceholderText("Describe a picture, or drop one here")
        self.query.setToolTip('Describe what is in the picture: "a dog on a beach -night +snow"\n'
                              "(-night: less like night, +snow: more like snow).\n"
                              "Or drop or paste (Ctrl+V) a picture to find similar ones.")
        self.search_button = button("&Search", "Search")
        self.ask_button = button("Ask in chat", "Ask in chat about the selected pictures")
        self.ask_button.setEnabled(False)
        theme.set_icon(self.ask_button, "chat")
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(0)
        self.threshold.setMaximumWidth(120)
        self.threshold.setAccessibleName("Similarity threshold")
        self.threshold.setToolTip("Hide results less similar than this")
        self.threshold_label = QLabel("0.00")
        self.threshold_label.setObjectName("thresholdValue")
        self.threshold_label.setMinimumWidth(self.threshold_label.fontMetrics().horizontalAdvance("0.00 "))
        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)
        search_row.addWidget(self.ask_button)
        self.query_picture = QLabel()
        self.query_picture.setObjectName("queryPicture")
        self.query_picture.setAccessibleName("The picture searched for")
        self.query_picture.hide()
        right = QVBoxLayout()
        right.addLayout(search_row)
        self.query_caption = QLabel("Results most like this picture first.")
        self.query_caption.setObjectName("paneNotice")
        self.query_caption.hide()
        right.addLayout(hbox(self.query_picture, self.query_caption, stretch=True))
        self.empty = EmptyState(
            "Add a folder of photos. Hearth looks at each picture once, on this computer; then you can "
            "find any of them by describing it.", "Add a photo folder…", "folder")
        self.empty.hide()
        right.addWidget(self.empty, 1)
        right.addWidget(self._build_grid(), 1)
        self.message = QLabel()
        self.message.setObjectName("imagesMessage")
        self.message.setWordWrap(True)
        # The threshold sits just before the count it changes ("20 results. 18 less similar ones hidden."),
        # which leaves the query field room for its words at 1024 px.
        results_row = QHBoxLayout()
        results_row.addWidget(QLabel("Min. similarity"))
        results_row.addWidget(self.threshold)
        results_row.addWidget(self.threshold_label)
        results_row.addSpacing(12)
        results_row.addWidget(self.message, 1)
        right.addLayout(results_row)
        return right

    def _build_grid(self) -> QListView:
        self.grid = QListView()
        self.grid.setObjectName("resultsGrid")
        self.grid.setAccessibleName("Results")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)  # stays smooth with 10,000 results
        self.grid.setBatchSize(200)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(CELL)
        self.grid.setWordWrap(True)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setModel(self.results)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)  # several go to chat together
        return self.grid

    def _build_watcher(self) -> None:
        self.watcher = QFileSystemWatcher(self)
        self.reindex_timer = QTimer(self)
        self.reindex_timer.setSingleShot(True)
        self.reindex_timer.setInterval(2000)  # a burst of new files: one pass
        self.reindex_timer.timeout.connect(lambda: self.start_index(quiet=True))
        self.watcher.directoryChanged.connect(lambda _p: self.reindex_timer.start())

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

    # --- folders and indexing ----------------------------------------------------------
    def refresh_folders(self) -> None:
        self.images.folders(on_result=self._show_folders, on_error=self._on_folders_failed)

    def _show_folders(self, result) -> None:
        folders, skipped = result
        self.empty.setVisible(not folders)
        self.grid.setVisible(bool(folders))
        self.folder_list.clear()
        for path, status, count in folders:
            note = f"{count} photos" + (" · offline (kept)" if status == "offline" else "")
            item = QListWidgetItem(f"{display_path(path)}\n{note}")
            item.setToolTip(display_path(path))
            item.setData(Qt.ItemDataRole.UserRole, os.fsencode(path))  # bytes: Qt text would drop non-UTF-8
            self.folder_list.addItem(item)
            if os.path.isdir(path) and path not in self.watcher.directories():
                self.watcher.addPath(path)
        self.skipped_button.setVisible(bool(skipped))
        if skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(skipped.items()))
            self.index_status.setText(f"Skipped {sum(skipped.values())}: {reasons}")

    def show_skipped(self, files) -> None:
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout

        dialog = QDialog(self)
        dialog.setWindowTitle("Skipped files")
        dialog.setObjectName("skippedFiles")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel(f"{len(files)} file(s) could not be indexed:"))
        dialog.list = QListWidget()
        dialog.list.setAccessibleName("Skipped files")
        for path, reason in files:
            dialog.list.addItem(f"{path} — {reason}")
        layout.addWidget(dialog.list)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(640, 360)
        dialog.show()
        self._skipped_dialog = dialog
        return dialog

    def add_folders(self, paths) -> None:
        for p in paths:
            self.images.add_folder(str(p))
        self.refresh_folders()
        self.start_index()

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if path:
            self.add_folders([path])

    def _remove_selected(self) -> None:
        item = self.folder_list.currentItem()
        if item is not None:
            path = os.fsdecode(bytes(item.data(Qt.ItemDataRole.UserRole)))
            self.images.remove_folder(path)
            if path in self.watcher.directories():
                self.watcher.removePath(path)
            self.refresh_folders()

    def start_index(self, quiet: bool = False) -> None:
        if self.index_job is not None and not self.index_job.done:
            return
        model_id = self.picker.current()
        if not model_id:
            self.message.setText("No images model installed: open Models to download one.")
            return
        self._set_indexing(True)
        if not quiet:
            self.index_status.setText("Looking for new and changed pictures…")
        self.index_job = self.images.index(model_id, on_progress=self._on_index_progress,
                                           on_result=self._on_indexed, on_error=self._on_index_failed)
        self.index_job.cancelled.connect(self._on_index_stopped)

    def _set_indexing(self, on: bool) -> None:
        if on:
            self.index_progress.show()
        self.index_button.setEnabled(not on)
        self.pause_button.setEnabled(on)
        self.cancel_button.setEnabled(on)

    def _on_index_progress(self, p) -> None:
        self.index_progress.setMaximum(max(1, p.total))
        self.index_progress.setValue(p.done)
        eta = f", about {int(p.eta_s)} s left" if p.eta_s else ""
        self.index_status.setText(f"{p.done}/{p.total} pictures, {p.rate:.1f} per second{eta}")

    def _on_indexed(self, summary) -> None:
        self._set_indexing(False)
        self.last_summary = summary
        self.index_progress.setMaximum(1)
        self.index_progress.setValue(1)
        parts = [f"{summary.embedded} new or changed", f"{summary.unchanged} unchanged"]
        if summary.removed:
            parts.append(f"{summary.removed} gone")
        if summary.skipped:
            parts.append("skipped " + ", ".join(f"{n} {r}" for r, n in sorted(summary.skipped.items())))
        if summary.offline_folders:
            parts.append(f"{len(summary.offline_folders)} folder(s) offline, kept")
        self.index_status.setText("Indexed: " + "; ".join(parts) + ".")
        self.refresh_folders()
        if summary.emptied_folders:
            self._ask_remove_emptied(summary.emptied_folders)
        self.index_finished.emit(summary)

    def _on_index_failed(self, exc) -> None:
        self._set_indexing(False)
        if isinstance(exc, DamagedDatabaseError):
            self._offer_rebuild(exc)
        self.index_status.setText(f"Indexing failed: {exc}")
        self.index_finished.emit(exc)

    def _ask_remove_emptied(self, folders: list[str]) -> None:
        """An emptied folder may be an unplugged drive's mount point: its entries go only if the user says so."""
        names = "\n".join(display_path(f) for f in folders)
        box = QMessageBox(QMessageBox.Icon.Question, "Remove missing pictures?",
                          f"These folders are empty or lost every indexed picture at once:\n{names}\n\n"
                          "If a drive is unplugged, keep them: they stay searchable, marked offline. "
                          "Remove their entries from the library?", parent=self)
        self.remove_button = box.addButton("Remove entries", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep as offline", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(QMessageBox.StandardButton.NoButton)
        box.buttonClicked.connect(lambda button: self._removal_answered(button, folders))
        self.removal_question = box
        box.open()

    def _removal_answered(self, button, folders: list[str]) -> None:
        if button is self.remove_button:
            self.images.forget_missing(folders, on_result=lambda n: (
                self.index_status.setText(f"Removed {n} missing pictures."), self.refresh_folders()))

    def _on_folders_failed(self, exc) -> None:
        if isinstance(exc, DamagedDatabaseError):
            self._offer_rebuild(exc)
        else:
            self.index_status.setText(f"The photo library could not be read: {exc}")

    def _offer_rebuild(self, exc) -> None:
        """A damaged index: say so, and offer a new one with the old file set aside."""
        if getattr(self, "rebuild_question", None) is not None and self.rebuild_question.isVisible():
            return
        log.error("%s", exc)
        self.index_status.setText(f"{exc}")
        box = QMessageBox(QMessageBox.Icon.Warning, "The photo index is damaged",
                          f"{exc}\n\nRebuild it? The damaged file is set aside beside it (kept, not deleted), "
                          "and your folders are indexed again.", parent=self)
        self.rebuild_button = box.addButton("Rebuild", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(self._rebuild_answered)
        self.rebuild_question = box
        box.open()

    def _rebuild_answered(self, button) -> None:
        if button is self.rebuild_button:
            self.images.rebuild_index(on_result=self._rebuilt, on_error=self._on_folders_failed)

    def _rebuilt(self, path) -> None:
        self.index_status.setText(f"A new photo index was started; the damaged one is kept beside {path.name}.")
        self.refresh_folders()
        self.start_index()

    def _on_index_stopped(self) -> None:
        self._set_indexing(False)
        paused, self.pausing = self.pausing, False
        self.index_status.setText(
            "Paused: press Index to go on where it stopped." if paused else "Cancelled; what was indexed is kept."
        )
        self.index_finished.emit(None)

    def _pause(self) -> None:
        self.pausing = True
        if self.index_job is not None:
            self.index_job.cancel()

    def _cancel(self) -> None:
        self.pausing = False
        if self.index_job is not None:
            self.index_job.cancel()

    # --- search ------------------------------------------------------------------------
    def search(self, images: list[str] | None = None, pil_images: list | None = None) -> None:
        model_id = self.picker.current()
        if not model_id:
            self.message.setText("No images model installed: open Models to download one.")
            return
        self.message.setText("Searching…")
        self._show_query_picture(images, pil_images)
        # Every hit comes back; the threshold slider filters them here, live.
        self.search_job = self.images.search(
            model_id, self.query.text(), list(images or []), list(pil_images or []), 10_000, None,
            on_result=self._show_results, on_error=self._search_failed,
        )

    def _show_query_picture(self, images, pil_images) -> None:
        """The picture searched for, above the results; a file's thumbnail is made off the GUI thread."""
        self._query_path = str(images[0]) if images else None
        pix = QPixmap()
        if pil_images and not images:
            from PIL import ImageOps
            from PIL.ImageQt import ImageQt

            small = ImageOps.contain(pil_images[0], (96, 96))  # a pasted picture is already in memory
            pix = QPixmap.fromImage(ImageQt(small.convert("RGBA")))
        self._set_query_picture(pix)  # hidden until a file's thumbnail is ready
        if self._query_path is not None:
            self.results.request_thumbnail(self._query_path)

    def _query_thumbnail_ready(self, path: str, image) -> None:
        if path == self._query_path:  # not a search the user has moved on from
            self._set_query_picture(QPixmap.fromImage(image))

    def _set_query_picture(self, pix: QPixmap) -> None:
        if pix.isNull():
            self.query_picture.clear()
            self.query_picture.hide()
            self.query_caption.hide()
            return
        self.query_picture.setPixmap(pix.scaled(QSize(96, 96), Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
        self.query_picture.setToolTip("Results look like this picture")
        self.query_picture.show()
        self.query_caption.show()

    def _show_results(self, hits) -> None:
        self.all_hits = list(hits)
        self._apply_threshold()

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        if self.all_hits:
            self._apply_threshold()

    def _apply_threshold(self) -> None:
        """Shows the hits above the slider's value; a score at or below zero is never a match."""
        floor = self.threshold.value() / 100
        shown = [h for h in self.all_hits if h.score > floor and h.score > 0]
        self.results.set_hits(shown)
        hidden = len(self.all_hits) - len(shown)
        if not shown:
            text = "No matches." if not self.all_hits else "No matches above the threshold."
        else:
            text = f"{len(shown)} results." + (f" {hidden} less similar ones hidden." if hidden else "")
        self.message.setText(text)
        self.results_ready.emit(len(shown))

    def _search_failed(self, exc) -> None:
        self.message.setText(str(exc) if isinstance(exc, HearthError) else f"Search failed: {exc!r}")
        self.results_ready.emit(-1)

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

    def _paste(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.message.setText("The clipboard holds no picture.")
            return
        self._search_qimage(image)

    def _search_qimage(self, image: QImage) -> None:
        from PIL import Image

        rgb = image.convertToFormat(QImage.Format.Format_RGB888)
        data = bytes(rgb.constBits())[: rgb.bytesPerLine() * rgb.height()]
        pil = Image.frombuffer("RGB", (rgb.width(), rgb.height()), data, "raw", "RGB", rgb.bytesPerLine(), 1)
        self.search(pil_images=[pil.copy()])

    # --- results -----------------------------------------------------------------------
    def _path_at(self, index) -> str | None:
        return self.results.data(index, ResultsModel.PathRole) if index.isValid() else None

    def _open(self, index) -> None:
        path = self._path_at(index)
        if path and not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.preview(path)  # no picture viewer on this system

    def preview_current(self) -> None:
        path = self._path_at(self.grid.currentIndex())
        if path:
            self.preview(path)

    def preview(self, path: str):
        from app.gui.images.preview import PreviewDialog

        dialog = PreviewDialog(path, self)
        dialog.show()
        self._preview = dialog
        return dialog

    def _menu(self, pos) -> None:
        menu = self.menu_at(pos)
        if menu is not None:
            menu.popup(self.grid.viewport().mapToGlobal(pos))

    def menu_at(self, pos) -> QMenu | None:
        """The context menu of the result at ``pos`` (in the grid's viewport), not yet shown."""
        path = self._path_at(self.grid.indexAt(pos))
        if not path:
            return None
        menu = QMenu(self)
        chosen = self.selected_paths()
        paths = chosen if path in chosen else [path]  # the selection, when the click is on it
        menu.addAction("Ask in chat" + (f" ({len(paths)} pictures)" if len(paths) > 1 else ""),
                       lambda: self._ask(paths))
        menu.addAction("Find similar", lambda: self.find_similar(path))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent))))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(path))
        menu.addAction("Copy image", lambda: QGuiApplication.clipboard().setImage(read_picture(path)))
        self._menu_ref = menu
        return menu

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [p for p in (self.results.data(self.results.index(r), ResultsModel.PathRole) for r in rows) if p]

    def _ask(self, paths: list[str]) -> None:
        if paths:
            self.ask_in_chat.emit(list(paths))

    def find_similar(self, path: str) -> None:
        self.query.clear()
        self.search(images=[path])

    def finish_workers(self) -> list:
        if self.index_job is not None:
            self.index_job.cancel()
        self.results.pool.clear()  # thumbnails not started yet; the running few end on their own
        return [self.images.finish()]

    def shutdown(self, timeout_ms: int = 10000) -> None:
        super().shutdown(timeout_ms)
        self.results.pool.waitForDone(timeout_ms)
