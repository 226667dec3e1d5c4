"""A list that says what it is for while empty ("No chats yet"), rather than showing a blank box."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QListView, QListWidget


class PlaceholderList(QListWidget):
    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(parent)
        self.placeholder = placeholder

    def paintEvent(self, event):  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            _paint_placeholder(self)


class PlaceholderView(QListView):
    """The same for a list view over a model (the Images results grid)."""

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(parent)
        self.placeholder = placeholder

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.viewport().update()

    def paintEvent(self, event):  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.placeholder and (self.model() is None or self.model().rowCount() == 0):
            _paint_placeholder(self)


def _paint_placeholder(view) -> None:
    painter = QPainter(view.viewport())
    painter.setPen(view.palette().color(QPalette.ColorRole.PlaceholderText))
    rect = view.viewport().rect().adjusted(8, 12, -8, -8)
    painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                     view.placeholder)
    painter.end()
