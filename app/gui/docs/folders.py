"""The Documents pane's folders panel: the document folders with their counts, indexing them (progress,
the file being read, Cancel), the files skipped with their reasons, and watching the folders so an
edit, a new file, a rename or a deletion is indexed again on its own (debounced).

A mixin of DocsPane (it uses the pane's docs worker and picker).
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QLabel, QListWidgetItem, QProgressBar, QVBoxLayout

from app.gui.panes.base import button, hbox
from app.gui.widgets.placeholder_list import PlaceholderList

log = logging.getLogger(__name__)
REINDEX_DELAY_MS = 1500  # a burst of saves (an editor, a copy of many files): one pass


def display_path(path: str) -> str:
    """A path fit to show: bytes that are not UTF-8 (kept as surrogates) become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


class FoldersPanel:
    def _build_folders(self) -> QVBoxLayout:
        self.folder_list = PlaceholderList("No document folders yet")
        self.folder_list.setObjectName("docsFolderList")
        self.folder_list.setAccessibleName("Document folders")
        self.folder_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long path keeps both ends
        self.folder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QVBoxLayout()
        left.addWidget(QLabel("Folders"))
        self.folder_list.setMinimumHeight(self.folder_list.fontMetrics().height() * 3 + 8)
        left.addWidget(self.folder_list, 1)
        self.add_folder = button("&Add folder…", "Add a document folder")
        self.add_folder.setToolTip("Text, Markdown, HTML, PDF, Word, OpenDocument and EPUB files are read;\n"
                                   "the folder is watched, so its index follows your edits.")
        self.remove_folder = button("Remove", "Remove the document folder")
        left.addLayout(hbox(self.add_folder, self.remove_folder))
        self.index_button = button("&Index", "Index the folders")
        self.cancel_button = button("Cancel", "Cancel indexing")
        left.addLayout(hbox(self.index_button, self.cancel_button))
        self.index_progress = QProgressBar()
        self.index_progress.setAccessibleName("Indexing progress")
        self.index_progress.hide()  # shown from the first indexing on
        left.addWidget(self.index_progress)
        self.index_status = QLabel()
        self.index_status.setObjectName("docsIndexStatus")
        self.index_status.setWordWrap(True)
        left.addWidget(self.index_status)
        self.skipped_label = QLabel()
        self.skipped_list = PlaceholderList()
        self.skipped_list.setObjectName("docsSkipped")
        self.skipped_list.setAccessibleName("Skipped files")
        self.skipped_list.setWordWrap(True)
        self.skipped_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # A few rows, then it scrolls: the folders above keep the room, and a small window needs no scrolling.
        self.skipped_list.setMinimumHeight(self.skipped_list.fontMetrics().height() * 2 + 8)
        self.skipped_list.setMaximumHeight(self.skipped_list.fontMetrics().height() * 7 + 8)
        self.skipped_label.setBuddy(self.skipped_list)
        for widget in (self.skipped_label, self.skipped_list):
            widget.hide()
        left.addWidget(self.skipped_label)
        left.addWidget(self.skipped_list)
        return left

    def _build_watcher(self) -> None:
        self.watcher = QFileSystemWatcher(self)
        self.reindex_timer = QTimer(self)
        self.reindex_timer.setSingleShot(True)
        self.reindex_timer.setInterval(REINDEX_DELAY_MS)
        self.reindex_timer.timeout.connect(lambda: self.start_index(quiet=True))
        self.watcher.directoryChanged.connect(self._changed_on_disk)
        self.watcher.fileChanged.connect(self._changed_on_disk)
        self._again = False  # a change arrived while indexing: one more pass after it
        self._quiet = False  # the running pass was started by the watch
        self._last_report = ""

    def _changed_on_disk(self, path: str) -> None:
        log.debug("changed on disk: %s", path)
        self.reindex_timer.start()

    def refresh_folders(self, then=None) -> None:
        """Lists the folders, counts and skipped files again and watches what is there now; then ``then()``."""
        job = self.docs.folders(on_result=self._show_folders, on_error=self._on_folders_failed)
        if then is not None:
            job.finished.connect(then)

    def _show_folders(self, result) -> None:
        folders, skipped, (dirs, files) = result
        self.folder_paths = [f["path"] for f in folders]
        self.folder_list.clear()
        for f in folders:
            there = os.path.isdir(f["path"])
            note = f"{f['files']} files, {f['chunks']} passages" + (f", {f['skipped']} skipped" if f["skipped"] else "")
            item = QListWidgetItem(f"{display_path(f['path'])}\n{note}" + ("" if there else " · not found (kept)"))
            item.setToolTip(display_path(f["path"]))
            item.setData(Qt.ItemDataRole.UserRole, os.fsencode(f["path"]))  # bytes: Qt text drops non-UTF-8
            self.folder_list.addItem(item)
        self._watch(dirs, files)
        self.skipped_list.clear()
        for path, reason in skipped:
            item = QListWidgetItem(f"{display_path(os.path.basename(path))} — {reason}")
            item.setToolTip(f"{display_path(path)}\n{reason}")
            self.skipped_list.addItem(item)
        self.skipped_label.setText(f"Skipped ({len(skipped)}), not searchable:")
        for widget in (self.skipped_label, self.skipped_list):
            widget.setVisible(bool(skipped))
        self.update_empty()
        self.folders_shown.emit()

    def _watch(self, dirs: list[str], files: list[str]) -> None:
        """Watches exactly these: a removed folder's paths leave, a new file's arrive (a file replaced by
        a rename is watched again here, after the pass that saw it)."""
        wanted = set(dirs) | set(files)
        watched = set(self.watcher.directories())
        if any(d not in watched and os.path.dirname(d) in watched for d in dirs):
            # A new sub-folder: what was put in it before its watch began is found by one more pass.
            self.reindex_timer.start()
        stale = [p for p in self.watcher.directories() + self.watcher.files() if p not in wanted]
        if stale:
            self.watcher.removePaths(stale)
        new = [p for p in dirs + files if p not in set(self.watcher.directories()) | set(self.watcher.files())]
        if new:
            failed = self.watcher.addPaths(new)
            if failed:
                log.info("not watched (%d): %s", len(failed), failed[:3])

    def _on_folders_failed(self, exc) -> None:
        log.error("the document index could not be read: %s", exc)
        self.index_status.setText("The document index could not be read; see the log for details.")

    def add_folders(self, paths) -> None:
        for p in paths:
            self.docs.add_folder(str(p))
        self.refresh_folders()
        self.start_index()

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a document folder")
        if path:
            self.add_folders([path])

    def _remove_selected(self) -> None:
        item = self.folder_list.currentItem()
        if item is None:
            self.index_status.setText("Choose a folder in the list to remove it.")
            return
        path = os.fsdecode(bytes(item.data(Qt.ItemDataRole.UserRole)))
        self.docs.remove_folder(path, on_result=lambda _r: self._removed(path))

    def _removed(self, path: str) -> None:
        self.index_status.setText(f"Removed {display_path(path)} from the index (its files stay).")
        self.refresh_folders()
        self.search()  # its passages leave the results

    def start_index(self, quiet: bool = False) -> None:
        if self.index_job is not None and not self.index_job.done:
            self._again = True
            return
        model_id = self.picker.current()
        if not model_id:
            self.update_empty()
            return
        self._again = False
        self._quiet = quiet
        self._set_indexing(True)
        if not quiet:
            self.index_status.setText("Looking for new and changed documents…")
        self.index_job = self.docs.index(model_id, on_progress=self._on_index_progress,
                                         on_result=self._on_indexed, on_error=self._on_index_failed)
        self.index_job.cancelled.connect(self._on_index_cancelled)

    def _set_indexing(self, on: bool) -> None:
        if on:
            self.index_progress.show()
        self.index_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)

    def _on_index_progress(self, p) -> None:
        self.index_progress.setMaximum(max(1, p.total))
        self.index_progress.setValue(p.done)
        self.index_status.setText(f"{p.done} of {p.total} files · {p.chunks} passages\nRead {p.current}")

    def _on_indexed(self, summary) -> None:
        self._set_indexing(False)
        self.last_summary = summary
        self.index_progress.setMaximum(1)
        self.index_progress.setValue(1)
        if self._quiet and not (summary.indexed or summary.removed or summary.skipped):
            # A pass the watch started that found nothing to do (reading a file can touch its access
            # time): the last pass's report stays.
            self.index_status.setText(self._last_report)
            self._after_index(summary)
            return
        parts = [f"{summary.indexed} new or changed", f"{summary.unchanged} unchanged"]
        if summary.removed:
            parts.append(f"{summary.removed} gone")
        if summary.skipped:
            parts.append(f"{len(summary.skipped)} skipped (listed below)")
        if summary.missing_folders:
            parts.append(f"{len(summary.missing_folders)} folder(s) not found, kept")
        self._last_report = "Indexed: " + ", ".join(parts) + "."
        self.index_status.setText(self._last_report)
        self._after_index(summary)

    def _on_index_failed(self, exc) -> None:
        self._set_indexing(False)
        log.error("document indexing failed: %s", exc)
        from app.core.jobs import HearthError

        self.index_status.setText(f"Indexing failed: {exc}" if isinstance(exc, HearthError)
                                  else "Indexing failed; see the log for details.")
        self._after_index(exc)

    def _on_index_cancelled(self) -> None:
        self._set_indexing(False)
        self.index_status.setText("Cancelled; what was indexed is kept. Press Index to go on.")
        self._again = False
        self._after_index(None)

    def _after_index(self, outcome) -> None:
        """The counts and the watches are brought up to date before ``index_finished`` says it is over."""
        if self.query.text().strip():
            self.search()  # the results follow the files
        if self._again:
            self.reindex_timer.start()
        self.refresh_folders(then=lambda: self.index_finished.emit(outcome))

    def _cancel(self) -> None:
        if self.index_job is not None:
            self.index_job.cancel()
