"""An "Ask Hearth" answer's citations: [1] [2] in its text become links, a Sources line lists them, and
a click opens what was cited where it is (a photo in the Images pane, a document at its page, a transcript
at its line), the way the Ctrl+K box opens a hit (app/gui/find/route.py).
"""

from __future__ import annotations

import logging
import os
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.core.chat.steps import file_path, number_of, where
from app.core.find import KINDS, Hit, Location
from app.gui.chat.steps_view import photo_about, plain_tip

log = logging.getLogger(__name__)
_PARTS = re.compile(r"(<pre.*?</pre>|<code>.*?</code>|<a\b.*?</a>|<[^>]*>)", re.DOTALL | re.IGNORECASE)
_CITE = re.compile(r"\[(\d{1,3})\]")


def link_citations(body: str, numbers: set[int]) -> str:
    """The rendered answer with each [n] that names a citation made a ``cite:n`` link; code and links
    stay as they are."""
    if not numbers:
        return body
    out = []
    for i, part in enumerate(_PARTS.split(body)):
        if i % 2 == 0:  # text between tags: already HTML-escaped by the renderer
            part = _CITE.sub(lambda m: f'<a href="cite:{m[1]}">[{m[1]}]</a>' if int(m[1]) in numbers else m[0],
                             part)
        out.append(part)
    return "".join(out)


def numbered(citations: list[dict]) -> dict[int, dict]:
    return {number_of(c, n): c for n, c in enumerate(citations, 1)}


def hit_of(result: dict) -> Hit | None:
    """A step's result (a find hit's JSON, read back from the history) as a hit the router opens."""
    kind = result.get("kind")
    if kind not in KINDS:
        return None

    def num(key, cls=(int, float)):
        value = result.get(key)
        return value if isinstance(value, cls) and not isinstance(value, bool) else None

    loc = Location(page=num("page", int), start=num("start"), end=num("end"),
                   transcript_id=result.get("transcript_id") if isinstance(result.get("transcript_id"), str) else None,
                   conversation_id=num("conversation_id", int), message_id=num("message_id", int),
                   **{k: result[k] for k in ("taken", "taken_source", "place") if isinstance(result.get(k), str)})
    path = file_path(result)  # a name that is not UTF-8: its exact bytes
    return Hit(kind, str(result.get("title") or path or ""), path, loc, str(result.get("text", "")), 0.0)


def open_result(widget: QWidget, result: dict) -> str:
    """Opens a cited or found thing; a sentence when it could not ("" when done)."""
    hit = hit_of(result)
    window = widget.window()
    if hit is not None and hasattr(window, "panes") and hasattr(window, "show_pane"):
        from app.gui.find.route import open_hit

        return open_hit(window, hit)
    path = file_path(result)
    if path is not None and os.path.isfile(path):  # no window with panes around it: the system's viewer
        from app.gui.docs.opener import open_document

        page = result.get("page")
        return "" if open_document(path, page if isinstance(page, int) else None) else f"No program opens {path}."
    log.info("a cited result that cannot be opened: %s", where(result))
    return "That result cannot be opened."


class SourcesRow(QWidget):
    """'Sources: [1] kayak.jpg  [2] Voice memo, 1:05': one button per citation."""

    result_opened = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sourcesRow")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        label = QLabel("Sources:")
        label.setObjectName("sourcesLabel")
        self.row.addWidget(label)
        self.buttons: list[QToolButton] = []
        self.row.addStretch(1)

    def set_citations(self, citations: list[dict]) -> None:
        for b in self.buttons:
            b.setParent(None)
            b.deleteLater()
        self.buttons = []
        for n, c in numbered(citations).items():
            b = QToolButton()
            b.setObjectName("sourceButton")
            b.setAutoRaise(True)
            b.setText(f"[{n}] {where(c)}"[:80].replace("&", "&&"))  # & would mark a shortcut
            about = photo_about(c)  # a photo's when and where
            b.setToolTip(plain_tip(where(c)) + plain_tip(about))
            b.setAccessibleName(f"Open source {n}: {where(c)}" + (f". {about}" if about else ""))
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False, c=c: self.result_opened.emit(c))
            self.row.insertWidget(self.row.count() - 1, b)
            self.buttons.append(b)
        self.setVisible(bool(self.buttons))
