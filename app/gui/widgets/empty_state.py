"""What an empty pane shows: one sentence about what to do first, and the one button that does it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout

from app.gui import theme


class EmptyState(QFrame):
    def __init__(self, text: str, button_text: str, icon: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("emptyState")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(1)
        self.label = QLabel(text)
        self.label.setObjectName("emptyStateText")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.label)
        self.button = QPushButton(button_text)
        self.button.setProperty("primary", True)
        self.button.setAccessibleName(button_text.rstrip("…").replace("&", ""))
        if icon:
            theme.set_icon(self.button, icon)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
