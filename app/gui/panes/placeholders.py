"""The Images pane as it stands before its engine lands."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.gui.panes.base import ModelPane


class _Placeholder(ModelPane):
    coming = ""

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        note = QLabel(self.coming)
        note.setWordWrap(True)
        note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        note.setEnabled(False)
        self.body.addWidget(note, 1)


class ImagesPane(_Placeholder):
    kind, title = "images", "Images"
    blurb = "Search your photo folders by describing what is in them, or by dropping in a picture."
    coming = "Folder indexing and the thumbnail grid arrive with the image search engine."
