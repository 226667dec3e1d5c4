"""Pictures and documents waiting to be sent: a row of removable thumbnails and chips above the chat input.

Pictures are decoded and shrunk, documents read through the Documents index's extractors, off the GUI
thread (on a worker of their own, so a reply being generated never delays them); a bad one is reported
in words and never added.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.gui import theme
from app.gui.images.reading import read_picture
from app.gui.workers import SerialWorker

THUMB = 64


def pixmap_of(data: bytes, side: int = THUMB) -> QPixmap:
    image = QImage.fromData(QByteArray(data), "PNG")
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))


def png_bytes(image: QImage) -> bytes:
    """A pasted QImage as PNG bytes (decoded again, safely, by the core)."""
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(buf.data())


def _prepare(cancel, progress, source, name: str, side: int):
    from app.core.chat.pictures import PictureStore, prepare, thumbnail

    picture = prepare(source, name, side)
    PictureStore().put(picture)  # written here, so Send only adds rows (no file write on the GUI thread)
    return picture, thumbnail(picture.data)  # the GUI thread decodes only the thumbnail


def _prepare_document(cancel, progress, source, name: str):
    from app.core.chat.documents import DocumentStore
    from app.core.chatdocs.prepare import prepare

    document = prepare(source, name)
    DocumentStore().put(document)  # written here, so Send only adds rows
    return document


def document_chip(name: str, size: int, kind: str) -> QToolButton:
    """A document as a chip: its icon, name and size (in the tray, and in a sent message)."""
    from app.core.chat.documents import human_size

    b = QToolButton()
    b.setObjectName("documentChip")
    b.setText(f"{name} ({human_size(size)})")
    b.setToolTip(f"{name}: {kind}, {human_size(size)}")
    b.setAccessibleName(f"Document {name}, {human_size(size)}")
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setAutoRaise(True)
    theme.set_icon(b, "file")
    return b


class _DocumentChip(QWidget):
    def __init__(self, document, on_remove, parent=None):
        super().__init__(parent)
        self.document = document
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        self.label = document_chip(document.name, document.size, document.kind)
        row.addWidget(self.label)
        self.remove = QToolButton()
        self.remove.setAccessibleName(f"Remove {document.name}")
        self.remove.setToolTip(f"Remove {document.name}")
        self.remove.setAutoRaise(True)
        theme.set_icon(self.remove, "close")
        self.remove.clicked.connect(lambda: on_remove(self))
        row.addWidget(self.remove)


class _Chip(QWidget):
    def __init__(self, picture, thumb: bytes, on_remove, parent=None):
        super().__init__(parent)
        self.picture, self.thumb = picture, thumb
        col = QVBoxLayout(self)
        col.setContentsMargins(2, 2, 2, 2)
        thumb = QLabel()
        thumb.setPixmap(pixmap_of(self.thumb))
        thumb.setToolTip(f"{picture.name} ({picture.width}×{picture.height})")
        col.addWidget(thumb)
        self.remove = QToolButton()
        self.remove.setAccessibleName(f"Remove {picture.name}")
        self.remove.setToolTip(f"Remove {picture.name}")
        self.remove.setAutoRaise(True)
        theme.set_icon(self.remove, "close")
        self.remove.clicked.connect(lambda: on_remove(self))
        col.addWidget(self.remove, 0, Qt.AlignmentFlag.AlignHCenter)


class AttachmentTray(QWidget):
    changed = Signal()
    failed = Signal(str)  # a picture that could not be used, and why
    removed = Signal(str)  # the sha256 of a picture taken out before sending
    document_removed = Signal(str)  # the sha256 of a document taken out before sending

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("attachmentTray")
        self.setAccessibleName("Pictures to send")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addStretch(1)
        self.chips: list[_Chip] = []
        self.document_chips: list[_DocumentChip] = []
        self.side = 1024
        self.worker = SerialWorker("chat-pictures", self)
        self.pending = 0
        self.hide()

    @property
    def pictures(self) -> list:
        return [c.picture for c in self.chips]

    @property
    def documents(self) -> list:
        return [c.document for c in self.document_chips]

    def add_document(self, source, name: str = ""):
        """A document's file path or bytes; read on the worker. Returns the job."""
        self.pending += 1
        return self.worker.submit(_prepare_document, source, name, on_result=self._add_document,
                                  on_error=self._failed, name="prepare-document")

    def _add_document(self, document) -> None:
        self.pending -= 1
        if any(c.document.sha256 == document.sha256 for c in self.document_chips):
            self.changed.emit()
            return  # the same document twice is sent once
        chip = _DocumentChip(document, self.remove_chip)
        self.row.insertWidget(self.row.count() - 1, chip)
        self.document_chips.append(chip)
        self.show()
        self.changed.emit()

    def thumbnails(self) -> dict[str, bytes]:
        """sha256 -> the small PNG the message shows (so sending decodes no full picture)."""
        return {c.picture.sha256: c.thumb for c in self.chips}

    def add_source(self, source, name: str = ""):
        """A file path or PNG bytes; decoded on the worker. Returns the job."""
        self.pending += 1
        return self.worker.submit(_prepare, source, name, self.side, on_result=self._add,
                                  on_error=self._failed, name="prepare-picture")

    def _add(self, prepared) -> None:
        picture, thumb = prepared
        self.pending -= 1
        if any(c.picture.sha256 == picture.sha256 for c in self.chips):
            self.changed.emit()
            return  # the same picture twice is sent once
        chip = _Chip(picture, thumb, self.remove_chip)
        self.row.insertWidget(self.row.count() - 1, chip)
        self.chips.append(chip)
        self.show()
        self.changed.emit()

    def _failed(self, exc) -> None:
        from app.core.jobs import HearthError

        self.pending -= 1  # the worker logged it; a reason in words is shown, never a raw exception
        self.failed.emit(str(exc) if isinstance(exc, HearthError)
                         else "That could not be attached: an unexpected error (details in the log).")

    def remove_chip(self, chip: _Chip | _DocumentChip, sent: bool = False) -> None:
        if isinstance(chip, _DocumentChip):
            self.document_chips.remove(chip)
            if not sent:
                self.document_removed.emit(chip.document.sha256)
        else:
            self.chips.remove(chip)
            if not sent:
                self.removed.emit(chip.picture.sha256)
        chip.setParent(None)
        chip.deleteLater()
        self.setVisible(bool(self.chips or self.document_chips))
        self.changed.emit()

    def clear(self, sent: bool = False) -> None:
        for chip in [*self.chips, *self.document_chips]:
            self.remove_chip(chip, sent)


def picture_button(path: str, name: str, size: int = 96, thumb: bytes | None = None) -> QToolButton:
    """A sent picture in a message: its thumbnail (``thumb``, the small PNG made with it, else the stored
    picture read whole); clicking opens the stored file."""
    b = QToolButton()
    b.setObjectName("messagePicture")
    b.setAccessibleName(f"Open picture {name}")
    b.setToolTip(name)
    image = QImage.fromData(QByteArray(thumb), "PNG") if thumb else read_picture(str(path))  # as a PNG only
    b.setIcon(QIcon(QPixmap.fromImage(image)))
    b.setIconSize(QSize(size, size))
    b.setAutoRaise(True)
    return b
