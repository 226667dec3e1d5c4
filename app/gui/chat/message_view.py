"""The conversation view: one widget per message, Markdown rendered safely."""

from __future__ import annotations

import logging

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.gui.chat import markdown

log = logging.getLogger(__name__)


class SafeBrowser(QTextBrowser):
    """Loads no resources at all and follows no link by itself."""

    link_opened = Signal(QUrl)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.code_blocks: list[str] = []
        self.anchorClicked.connect(self._on_anchor)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        log.info("refused to load a resource from model output: %s", url.toString())
        return None

    def set_markdown(self, text: str) -> None:
        body, self.code_blocks = markdown.render(text)
        self.setHtml(body)

    def _fit_height(self, size) -> None:
        self.setFixedHeight(int(size.height()) + 6)

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.document().setTextWidth(self.viewport().width())

    def _on_anchor(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == "copy":
            try:
                QGuiApplication.clipboard().setText(self.code_blocks[int(url.path())])
            except (ValueError, IndexError):
                pass
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
            self.link_opened.emit(url)
        else:
            log.warning("ignored a %s link in model output", scheme or "relative")


class MessageWidget(QFrame):
    picture_opened = Signal(str)  # the stored file of a picture the user clicked
    copy_requested = Signal(int)
    edit_requested = Signal(int)
    regenerate_requested = Signal(int)

    NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}

    def __init__(self, message_id: int, role: str, text: str = "", parent=None):
        super().__init__(parent)
        self.message_id, self.role, self.text = message_id, role, text
        self.setObjectName(f"message-{role}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"{self.NAMES.get(role, role)} message")
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.header = QLabel(f"<b>{self.NAMES.get(role, role)}</b>")
        head.addWidget(self.header)
        head.addStretch(1)
        self.stats = QLabel()
        self.stats.setObjectName("messageStats")
        head.addWidget(self.stats)
        self.copy_button = self._button(head, "Copy", "Copy message", lambda: self.copy_requested.emit(message_id))
        if role == "user":
            self.edit_button = self._button(
                head, "Edit", "Edit and resend", lambda: self.edit_requested.emit(message_id)
            )
        if role == "assistant":
            self.regen_button = self._button(
                head, "Regenerate", "Regenerate reply", lambda: self.regenerate_requested.emit(message_id)
            )
        layout.addLayout(head)
        self.pictures = QHBoxLayout()
        layout.addLayout(self.pictures)
        self.body = SafeBrowser()
        self.body.setAccessibleName(f"{self.NAMES.get(role, role)} message text")
        layout.addWidget(self.body)
        self.set_text(text)

    @staticmethod
    def _button(layout, text, name, slot) -> QPushButton:
        b = QPushButton(text)
        b.setAccessibleName(name)
        b.setFlat(True)
        b.clicked.connect(slot)
        layout.addWidget(b)
        return b

    def add_pictures(self, items) -> None:
        """(file, name) pairs: thumbnails above the text; a click opens the picture."""
        from app.gui.chat.attachments import picture_button

        for path, name in items:
            b = picture_button(str(path), name)
            b.clicked.connect(lambda _=False, p=str(path): self.picture_opened.emit(p))
            self.pictures.addWidget(b)
        if items:
            self.pictures.addStretch(1)

    def set_text(self, text: str) -> None:
        self.text = text
        self.body.set_markdown(text)

    def set_stats(self, stats: dict, incomplete: bool = False) -> None:
        parts = []
        if stats.get("model"):
            parts.append(stats["model"])
        if stats.get("completion_tokens"):
            parts.append(f"{stats['completion_tokens']} tokens")
        if stats.get("tokens_per_second"):
            parts.append(f"{stats['tokens_per_second']:.1f} tok/s")
        if stats.get("time_to_first_token_s"):
            parts.append(f"first token {stats['time_to_first_token_s'] * 1000:.0f} ms")
        if stats.get("image_tokens"):
            encode = stats.get("image_encode_s") or 0
            parts.append(f"{stats['image_tokens']} image tokens" + (f", encoded in {encode * 1000:.0f} ms"
                                                                    if encode else ""))
        if incomplete:
            parts.append("incomplete")
        self.stats.setText(" · ".join(parts))


class ConversationView(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setAccessibleName("Conversation")
        self.setObjectName("conversationView")
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.addStretch(1)
        self.setWidget(inner)
        self.widgets: list[MessageWidget] = []
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self._stick = True

    def clear(self) -> None:
        for w in self.widgets:
            w.setParent(None)
            w.deleteLater()
        self.widgets = []

    def add(self, widget: MessageWidget) -> MessageWidget:
        self.column.insertWidget(self.column.count() - 1, widget)
        self.widgets.append(widget)
        self._stick = True
        return widget

    def _follow(self, _min, maximum) -> None:
        bar = self.verticalScrollBar()
        if self._stick or bar.value() >= bar.maximum() - 40:
            bar.setValue(maximum)
            self._stick = False
