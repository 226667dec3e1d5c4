"""A code block in a message: language label, an always-visible Copy button, and the highlighted code,
which scrolls sideways inside its own box (the message never does)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QTextBrowser, QToolButton, QVBoxLayout

from app.gui import theme
from app.gui.chat import markdown


class CodeView(QTextBrowser):
    """A code block's text: no wrapping, scrolls sideways inside the block, as tall as its lines."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(60)
        self._html = None
        self.document().documentLayout().documentSizeChanged.connect(lambda _s: self._fit())
        self.horizontalScrollBar().rangeChanged.connect(lambda *_: self._fit())

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        return None

    def set_code(self, code: str, language: str) -> None:
        body = (
            f'<pre style="font-family: {markdown.CODE_FONT};">'
            f"{markdown.highlight(code, language, theme.current())}</pre>"
        )
        if body != self._html:
            self._html = body
            self.setHtml(body)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(200, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(60, self.height())

    def _fit(self) -> None:
        bar = self.horizontalScrollBar()
        extra = bar.sizeHint().height() if bar.maximum() > 0 else 0
        self.setFixedHeight(int(self.document().size().height()) + 4 + extra)


class CodeBlock(QFrame):
    """Language label, an always-visible Copy button, and the highlighted code."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.code, self.language = "", ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.setSpacing(2)
        head = QHBoxLayout()
        self.label = QLabel()
        self.label.setObjectName("codeLanguage")
        head.addWidget(self.label)
        head.addStretch(1)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.copy_button.setAccessibleName("Copy code")
        self.copy_button.setAutoRaise(True)
        theme.set_icon(self.copy_button, "copy")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.code))
        head.addWidget(self.copy_button)
        layout.addLayout(head)
        self.view = CodeView()
        self.view.setAccessibleName("Code")
        layout.addWidget(self.view)
        self._restyle()

    def _restyle(self) -> None:
        c = theme.current_colors()
        self.setStyleSheet(
            f"QFrame#codeBlock {{ background: {c['code_bg']}; border: 1px solid {c['code_border']};"
            f" border-radius: 6px; }} QLabel#codeLanguage {{ color: {c['muted']}; }}"
            f" QTextBrowser {{ background: {c['code_bg']}; }}"
        )

    def set_code(self, code: str, language: str) -> None:
        self.code, self.language = code, language
        self.label.setText(language or "code")
        self.view.set_code(code, language)
