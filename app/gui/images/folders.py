"""The Images pane's folders panel: the photo folders, indexing them (pause, cancel, progress,
skipped files), watching them for new pictures, and the questions a damaged index or an emptied
folder raises.

A mixin of ImagesPane (it uses the pane's images worker, picker and message).
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QLabel, QListWidget, QListWidgetItem, QMessageBox, QProgressBar, QVBoxLayout

from app.core.db import DamagedDatabaseError
from app.core.images.scan import display_path
from app.gui.panes.base import button, hbox
from app.gui.widgets.placeholder_list import PlaceholderList

log = logging.getLogger(__name__)


class FoldersPanel:
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

    def _build_watcher(self) -> None:
        self.watcher = QFileSystemWatcher(self)
        self.reindex_timer = QTimer(self)
        self.reindex_timer.setSingleShot(True)
        self.reindex_timer.setInterval(2000)  # a burst of new files: one pass
        self.reindex_timer.timeout.connect(lambda: self.start_index(quiet=True))
        self.watcher.directoryChanged.connect(lambda _p: self.reindex_timer.start())

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
