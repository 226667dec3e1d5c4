"""A picture shown large inside Hearth (Space on a result, or double-click with no viewer installed)."""

from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from app.core.images.taken_words import photo_words
from app.gui.images.reading import picture_reader

MAX_SIDE = 1600


class PreviewDialog(QDialog):
    def __init__(self, path: str, parent=None, hit=None):
        """hit: what the index knows of the picture (its taken, taken_source and place), or None."""
        super().__init__(parent)
        self.setWindowTitle(os.path.basename(path))
        self.setObjectName("picturePreview")
        layout = QVBoxLayout(self)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName("Picture preview")
        reader = picture_reader(path)  # scaled while decoding: a huge picture never lands in memory whole
        image = QImage()
        if reader is not None:
            reader.setAutoTransform(True)
            size = reader.size()
            if size.isValid() and max(size.width(), size.height()) > MAX_SIDE:
                reader.setScaledSize(size.scaled(QSize(MAX_SIDE, MAX_SIDE), Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
        if reader is None:
            self.picture.setText("This file is not a picture Hearth can show.")
        elif image.isNull():
            self.picture.setText(f"This picture could not be read: {reader.errorString()}")
        else:
            screen = self.screen().availableGeometry().size() * 0.8 if self.screen() else QSize(1200, 800)
            pix = QPixmap.fromImage(image)
            if pix.width() > screen.width() or pix.height() > screen.height():
                pix = pix.scaled(screen, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.picture.setPixmap(pix)
        layout.addWidget(self.picture, 1)  # any room to spare goes to the picture, not between the lines
        self.details = QLabel()  # when and where it was taken, above its file
        self.details.setObjectName("previewDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if hit is not None:
            words = photo_words(hit.taken, hit.taken_source, hit.place)
            self.details.setText(words)
            self.details.setAccessibleName(words)
            self.picture.setAccessibleName(f"Picture preview: {os.path.basename(path)}. {words}")
        layout.addWidget(self.details)
        self.details.setVisible(hit is not None)
        caption = QLabel(path)
        caption.setWordWrap(True)
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(caption)
        self.setMinimumWidth(min(360, self.screen().availableGeometry().width() if self.screen() else 360))
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.close)
