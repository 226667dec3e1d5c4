"""Qt decodes a picture file only with the one reader the core's allow-list names for its content.

Qt, asked to read a file, picks an image plug-in by the file's content among all it has (PDF and SVG
among them in Qt's own set, and whatever else is installed), whatever the file is called. Here the
core says what the file is (app.core.images.formats) and Qt may use that reader alone.
"""

from __future__ import annotations

from PySide6.QtGui import QImage, QImageReader

from app.core.images.formats import qt_format


def picture_reader(path: str) -> QImageReader | None:
    """A reader bound to the picture's one allowed format; None: not a picture Hearth lets Qt decode."""
    fmt = qt_format(path)
    if fmt is None:
        return None
    reader = QImageReader(path, fmt.encode())
    reader.setAutoDetectImageFormat(False)  # that reader or none: never one chosen by the content
    reader.setDecideFormatFromContent(False)
    return reader


def read_picture(path: str) -> QImage:
    """The whole picture (upright), or a null QImage when it is not a picture Hearth decodes."""
    reader = picture_reader(path)
    if reader is None:
        return QImage()
    reader.setAutoTransform(True)
    return reader.read()
