"""The conversation view: one card per message, Markdown rendered safely.

Cards wrap to the view's width at every size (the view never scrolls sideways);
a long code line scrolls inside its own code block instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import theme
from app.gui.chat import markdown
from app.gui.chat.ask_message import AskParts
from app.gui.chat.code_block import CodeBlock

log = logging.getLogger(__name__)
READABLE_WIDTH = 900  # px: longer lines are hard to read


class SafeBrowser(QTextBrowser):
    """Loads no resources at all and follows no link by itself; as tall as its text."""

    link_opened = Signal(QUrl)
    citation_opened = Signal(int)  # an answer's [n] (app/gui/chat/sources.py made it a cite: link)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(60)
        self.code_blocks: list[str] = []
        self._html = None
        self.anchorClicked.connect(self._on_anchor)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        log.info("refused to load a resource from model output: %s", url.toString())
        return None

    def set_markdown(self, text: str) -> None:
        body, self.code_blocks = markdown.render(text, theme.current_colors(), theme.current())
        self.set_html(body)

    def set_html(self, body: str) -> None:
        c = theme.current_colors()
        # The inline-code and link colours live in the style sheet, not in the body: a theme change
        # with the same body must still re-render (a light code background under dark text was unreadable).
        css = (f"code {{ font-family: {markdown.CODE_FONT}; background-color: {c['code_bg']};"
               f" color: {c['text']}; }} a {{ color: {c['link']}; }}")
        if (body, css) != self._html:
            self._html = (body, css)
            self.document().setDefaultStyleSheet(css)
            self.setHtml(body)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override: never ask for more width than given
        return QSize(200, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(60, self.height())

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
        elif scheme == "cite" and url.path().isdigit():
            self.citation_opened.emit(int(url.path()))
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
            self.link_opened.emit(url)
        else:
            log.warning("ignored a %s link in model output", scheme or "relative")


class MessageBody(QWidget):
    """The message's Markdown as text browsers and code blocks, one per segment."""

    citation_opened = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(6)
        self.parts: list[QWidget] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_markdown(self, text: str, cited: set[int] | None = None) -> None:
        """``cited``: the citation numbers whose [n] become links."""
        segs = markdown.segments(text, theme.current_colors(), theme.current()) or [markdown.Segment("html")]
        kinds = [s.kind for s in segs]
        if kinds != [("code" if isinstance(p, CodeBlock) else "html") for p in self.parts]:
            for p in self.parts:
                p.setParent(None)
                p.deleteLater()
            self.parts = [CodeBlock() if k == "code" else SafeBrowser() for k in kinds]
            for p in self.parts:
                self.column.addWidget(p)
                if isinstance(p, SafeBrowser):
                    p.citation_opened.connect(self.citation_opened)
        for part, seg in zip(self.parts, segs, strict=True):
            if seg.kind == "code":
                part.set_code(seg.code, seg.language)
            elif cited:
                from app.gui.chat.sources import link_citations

                part.set_html(link_citations(seg.html, cited))
            else:
                part.set_html(seg.html)

    def browsers(self) -> list[SafeBrowser]:
        return [p for p in self.parts if isinstance(p, SafeBrowser)]

    def code_blocks(self) -> list[CodeBlock]:
        return [p for p in self.parts if isinstance(p, CodeBlock)]

    def toPlainText(self) -> str:  # noqa: N802 - reads like the QTextBrowser it replaces
        return "\n".join(p.code if isinstance(p, CodeBlock) else p.toPlainText() for p in self.parts)


class MessageWidget(AskParts, QFrame):
    picture_opened = Signal(str)  # the stored file of a picture the user clicked
    result_opened = Signal(dict)  # a step's result or a citation the user clicked (app/gui/chat/sources.py)
    copy_requested = Signal(int)
    edit_requested = Signal(int)
    regenerate_requested = Signal(int)

    NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}

    def __init__(self, message_id: int, role: str, text: str = "", parent=None):
        super().__init__(parent)
        self.message_id, self.role, self.text = message_id, role, text
        self._init_ask()
        self.setObjectName(f"message-{role}")
        self.setAccessibleName(f"{self.NAMES.get(role, role)} message")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        head = QHBoxLayout()
        self.header = QLabel(f"<b>{self.NAMES.get(role, role)}</b>")
        head.addWidget(self.header)
        head.addStretch(1)
        self.actions: list[QToolButton] = []
        self.copy_button = self._button(head, "copy", "Copy", "Copy message",
                                        lambda: self.copy_requested.emit(self.message_id))
        if role == "user":
            self.edit_button = self._button(head, "edit", "Edit", "Edit and resend",
                                            lambda: self.edit_requested.emit(self.message_id))
        if role == "assistant":
            self.regen_button = self._button(head, "regenerate", "Regenerate", "Regenerate reply",
                                             lambda: self.regenerate_requested.emit(self.message_id))
        layout.addLayout(head)
        self.pictures = QHBoxLayout()
        layout.addLayout(self.pictures)
        self.body = MessageBody()
        self.body.setAccessibleName(f"{self.NAMES.get(role, role)} message text")
        self.body.citation_opened.connect(self._open_citation)
        layout.addWidget(self.body)
        # The stats line sits under the text and wraps, so it never widens the card.
        self.stats = QLabel()
        self.stats.setObjectName("messageStats")
        self.stats.setWordWrap(True)
        self.stats.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stats.hide()
        layout.addWidget(self.stats)
        self.set_text(text)
        theme.notifier().changed.connect(self._on_theme)

    def _button(self, layout, icon_name, text, name, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(name)
        b.setAccessibleName(name)
        b.setAutoRaise(True)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        theme.set_icon(b, icon_name)
        b.clicked.connect(slot)
        layout.addWidget(b)
        self.actions.append(b)
        return b

    def _on_theme(self, _name: str) -> None:
        self.body.set_markdown(self.text, self.cited())
        for block in self.body.code_blocks():
            block._restyle()

    def add_pictures(self, items, thumbs: dict[str, bytes] | None = None) -> None:
        """(file, name) pairs: thumbnails above the text (``thumbs``: small PNGs by file stem, the
        sha256, where they were made already); a click opens the picture."""
        from app.gui.chat.attachments import picture_button

        for path, name in items:
            b = picture_button(str(path), name, thumb=(thumbs or {}).get(Path(path).stem))
            b.clicked.connect(lambda _=False, p=str(path): self.picture_opened.emit(p))
            self.pictures.addWidget(b)
        if items:
            self.pictures.addStretch(1)

    def add_documents(self, items) -> None:
        """DocumentRefs: chips with name and size above the text."""
        from app.gui.chat.attachments import document_chip

        for d in items:
            self.pictures.addWidget(document_chip(d.name, d.size, d.kind))
        if items:
            self.pictures.addStretch(1)

    def set_text(self, text: str) -> None:
        self.text = text
        self.body.set_markdown(text, self.cited())

    def set_status(self, text: str) -> None:
        """A transient line under the text ("thinking…", "failed")."""
        self.stats.setText(text)
        self.stats.setVisible(bool(text))

    def set_stats(self, stats: dict, incomplete: bool = False) -> None:
        def num(key: str) -> float:  # saved stats are read back from a file: a wrong type shows nothing
            value = stats.get(key)
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

        parts = []
        if isinstance(stats.get("model"), str) and stats["model"]:
            parts.append(stats["model"])
        if num("completion_tokens"):
            parts.append(f"{num('completion_tokens'):.0f} tokens")
        if num("tokens_per_second"):
            parts.append(f"{num('tokens_per_second'):.1f} tok/s")
        if num("time_to_first_token_s"):
            parts.append(f"first token {num('time_to_first_token_s') * 1000:.0f} ms")
        if num("image_tokens"):
            encode = num("image_encode_s")
            parts.append(f"{num('image_tokens'):.0f} image tokens" + (f", encoded in {encode * 1000:.0f} ms"
                                                                      if encode else ""))
        if stats.get("stop_reason") == "length":  # the reply did not end: the token limit cut it
            parts.append("cut at the token limit")
        if incomplete:
            parts.append("incomplete")
        self.set_status(" · ".join(parts))


class ConversationView(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Conversation")
        self.setObjectName("conversationView")
        inner = QWidget()
        inner.setObjectName("conversationInner")
        row = QHBoxLayout(inner)
        row.setContentsMargins(8, 8, 8, 8)
        row.addStretch(1)
        self.page = QWidget()
        self.page.setMaximumWidth(READABLE_WIDTH)
        self.page.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.page, 100)
        row.addStretch(1)
        self.column = QVBoxLayout(self.page)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(10)
        self.column.addStretch(1)
        self.setWidget(inner)
        self.widgets: list[MessageWidget] = []
        # Follows the end while the user is there; stays put once they scroll up to read.
        self._at_end = True
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self.verticalScrollBar().valueChanged.connect(self._on_scroll)

    def clear(self) -> None:
        for w in self.widgets:
            w.setParent(None)
            w.deleteLater()
        self.widgets = []
        self._at_end = True

    def warm_up(self) -> None:
        """Draws a throwaway message of each kind off screen. The first message built and shown costs
        ~60 ms of the GUI thread (fonts, text layout, styles): paid here, at start-up, not by a Send."""
        if self.widgets:
            return  # the conversation on show paid it
        for role in ("user", "assistant"):
            widget = MessageWidget(-1, role, "*A* `b`")
            widget.resize(max(self.page.width(), 400), 120)
            widget.grab()
            widget.deleteLater()

    def add(self, widget: MessageWidget) -> MessageWidget:
        self.column.insertWidget(self.column.count() - 1, widget)
        self.widgets.append(widget)
        self._at_end = True
        return widget

    def _on_scroll(self, value: int) -> None:
        self._at_end = value >= self.verticalScrollBar().maximum() - 40

    def _follow(self, _min, maximum) -> None:
        if self._at_end:
            self.verticalScrollBar().setValue(maximum)
