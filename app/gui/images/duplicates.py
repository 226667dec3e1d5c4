"""Find duplicates: the groups of near-identical photos and bursts, the suggested keeper of each marked;
the user ticks what to remove, confirms, and the pictures go to the system trash (never deleted).

Finding and removing run on the Images pane's worker; thumbnails on a pool of the dialog's own."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.core.images.scan import display_path
from app.core.jobs import HearthError
from app.gui.images.results import THUMB, _Signals, _ThumbJob

log = logging.getLogger(__name__)
PATH_ROLE = Qt.ItemDataRole.UserRole


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class DuplicatesDialog(QDialog):
    """One group per branch, the keeper first and marked; the others ticked for removal as a suggestion."""

    remove_confirmed = Signal(list)  # the paths the user chose and confirmed

    def __init__(self, groups: list, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.setObjectName("duplicatesDialog")
        self.resize(720, 560)
        self.confirmation: QMessageBox | None = None
        self.confirm_button: QPushButton | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._sizes: dict[str, int] = {}  # bytes, as indexed: no file is read on the GUI thread
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.done.connect(self._thumb_ready)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("duplicateGroups")
        self.tree.setAccessibleName("Groups of duplicate photos")
        self.tree.setHeaderLabels(["Picture", "Size", ""])
        self.tree.setIconSize(QSize(THUMB // 2, THUMB // 2))
        self.tree.itemChanged.connect(lambda *_: self._update_button())
        self.remove_button = QPushButton("Move to trash…")
        self.remove_button.setAccessibleName("Move the ticked pictures to the trash")
        self.remove_button.clicked.connect(self.ask_confirmation)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self._fill(groups)

    def _fill(self, groups: list) -> None:
        self.tree.blockSignals(True)
        for n, group in enumerate(groups, start=1):
            head = QTreeWidgetItem(self.tree, [f"Group {n}: {len(group)} pictures"])
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for k, pic in enumerate(group):
                item = QTreeWidgetItem(head, [display_path(os.path.basename(pic.path)),
                                              f"{pic.pixels / 1e6:.1f} MP, {_megabytes(pic.size)}",
                                              "keep (suggested)" if k == 0 else ""])
                item.setData(0, PATH_ROLE, pic.path)
                item.setToolTip(0, display_path(pic.path))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked if k == 0 else Qt.CheckState.Checked)
                self._items[pic.path] = item
                self._sizes[pic.path] = pic.size
                self.pool.start(_ThumbJob(pic.path, self._signals))
            head.setExpanded(True)
        self.tree.blockSignals(False)
        for col in (1, 2):
            self.tree.resizeColumnToContents(col)
        self.summary.setText(f"{len(groups)} groups of near-identical photos and bursts. The suggested one to "
                             "keep is the largest sharp one; ticked pictures go to the trash once you confirm.")
        self._update_button()

    def _thumb_ready(self, path: str, image: QImage) -> None:
        item = self._items.get(path)
        if item is not None and not image.isNull():
            item.setIcon(0, QIcon(QPixmap.fromImage(image)))

    def chosen(self) -> list[str]:
        return [p for p, item in self._items.items() if item.checkState(0) == Qt.CheckState.Checked]

    def _update_button(self) -> None:
        self.remove_button.setEnabled(bool(self.chosen()))

    def ask_confirmation(self) -> None:
        """Nothing moves until the user says so here; Cancel (or closing the box) leaves everything as it is."""
        paths = self.chosen()
        if not paths:
            return
        size = sum(self._sizes.get(p, 0) for p in paths)
        whole = [i for i in range(self.tree.topLevelItemCount()) if self._all_ticked(self.tree.topLevelItem(i))]
        warn = (f"\n\nIn {len(whole)} group(s) every picture is ticked: none of those would be kept."
                if whole else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Move to the trash?",
                          f"Move {len(paths)} pictures ({_megabytes(size)}) to the trash? You can restore them "
                          f"from there.{warn}", parent=self)
        self.confirm_button = box.addButton("Move to trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self._answered(button, paths))
        self.confirmation = box
        box.open()

    def _all_ticked(self, head: QTreeWidgetItem) -> bool:
        kids = [head.child(i) for i in range(head.childCount())]
        return bool(kids) and all(k.checkState(0) == Qt.CheckState.Checked for k in kids)

    def _answered(self, button, paths: list[str]) -> None:
        if button is self.confirm_button:
            self.remove_button.setEnabled(False)
            self.summary.setText(f"Moving {len(paths)} pictures to the trash…")
            self.remove_confirmed.emit(paths)

    def show_removal(self, removal) -> None:
        """The pictures that went leave the list; the ones that could not go are said, and stay."""
        for path in removal.removed:
            item = self._items.pop(path, None)
            if item is not None and item.parent() is not None:
                item.parent().removeChild(item)
        text = f"Moved {len(removal.removed)} pictures to the trash."
        if removal.failed:
            text += " Not moved: " + "; ".join(why for _, why in removal.failed[:3])
            if len(removal.failed) > 3:
                text += f" and {len(removal.failed) - 3} more."
        self.summary.setText(text)
        self._update_button()

    def done(self, result: int) -> None:  # noqa: D102 - Qt override: no thumbnail outlives the dialog
        self.pool.clear()
        super().done(result)


class DuplicatesAction:
    """The Images pane's part: the button, the finding job, the dialog and the removal job. The pane
    declares its signals duplicates_shown (the dialog, or None) and duplicates_removed (the Removal)."""

    def _build_duplicates(self) -> QPushButton:
        self.duplicates_button = QPushButton("Find duplicates")
        self.duplicates_button.setAccessibleName("Find near-duplicate photos and bursts")
        self.duplicates_button.setToolTip("Groups of near-identical photos and bursts, the best one of each "
                                          "suggested; you choose what goes to the trash.")
        self.duplicates_button.clicked.connect(self.find_duplicates)
        self.duplicates_dialog: DuplicatesDialog | None = None
        return self.duplicates_button

    def find_duplicates(self) -> None:
        model_id = self.picker.current()
        if not model_id:
            self.message.setText("No images model installed: open Models to download one.")
            return
        self.duplicates_button.setEnabled(False)
        self.message.setText("Looking for duplicates…")
        self.images.duplicates(model_id, on_result=self._show_duplicates, on_error=self._duplicates_failed)

    def _show_duplicates(self, groups: list) -> None:
        self.duplicates_button.setEnabled(True)
        if not groups:
            self.message.setText("No duplicates found among the indexed photos.")
            self.duplicates_shown.emit(None)
            return
        self.message.setText(f"{len(groups)} groups of duplicates.")
        dialog = DuplicatesDialog(groups, self)
        dialog.remove_confirmed.connect(self._trash)
        self.duplicates_dialog = dialog
        dialog.open()
        self.duplicates_shown.emit(dialog)

    def _duplicates_failed(self, exc) -> None:
        self.duplicates_button.setEnabled(True)
        log.warning("finding duplicates failed: %r", exc)
        self.message.setText(str(exc) if isinstance(exc, HearthError) else
                             "Finding duplicates failed; the log has the details.")

    def _trash(self, paths: list[str]) -> None:
        self.images.trash(paths, on_result=self._trashed, on_error=self._trash_failed)

    def _trashed(self, removal) -> None:
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.show_removal(removal)
        self.message.setText(f"Moved {len(removal.removed)} pictures to the trash.")
        self.refresh_folders()
        self.duplicates_removed.emit(removal)

    def _trash_failed(self, exc) -> None:
        log.warning("moving duplicates to the trash failed: %r", exc)
        text = str(exc) if isinstance(exc, HearthError) else "Moving to the trash failed; the log has the details."
        self.message.setText(text)
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.summary.setText(text)
