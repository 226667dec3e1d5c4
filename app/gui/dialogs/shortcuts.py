"""Help → Keyboard shortcuts: every shortcut Hearth has, in one list."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

# (keys, what they do). Keys are written as QKeySequence text so the test can match them to real actions.
SHORTCUTS: list[tuple[str, str]] = [
    ("Ctrl+1", "Show Chat"),
    ("Ctrl+2", "Show Images"),
    ("Ctrl+3", "Show Speech"),
    ("Ctrl+4", "Show Documents"),
    ("Ctrl+5", "Show Models"),
    ("Ctrl+N", "New chat"),
    ("Ctrl+F", "Search chats"),
    ("Ctrl+K", "Find anything: documents, transcripts, photos and chats"),
    ("Esc", "Stop the reply, or cancel editing a sent message"),
    ("Enter", "Send the message"),
    ("Shift+Enter", "New line in the message"),
    ("Tab", "Next control (Shift+Tab: previous)"),
    ("Ctrl+V", "Paste a picture where pictures are accepted (Images search)"),
    ("Space", "Preview the selected picture (Images results)"),
    ("Ctrl+,", "Settings"),
    ("F1", "Keyboard shortcuts"),
    ("Ctrl+Q", "Quit"),
]


def native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(SHORTCUTS), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, what) in enumerate(SHORTCUTS):
            self.table.setItem(row, 0, QTableWidgetItem(native(keys)))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnToContents(0)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 480)

    def keys(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]
