"""An "Ask Hearth" reply's tool steps: one compact row each inside the assistant's message, expandable.

"Searched photos for 'red kayak': 6 found" with the thumbnails under it; "Searched recordings…" with each
passage's time; documents with their snippets. A click on a result opens it where it is (sources.py).
Everything drawn comes from the history or the loop's step JSON: text is plain, never HTML.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.steps import StoredStep, clock, file_path, where
from app.core.images.taken_words import photo_words

log = logging.getLogger(__name__)

THUMB = 64  # px: a step's photos, small enough for a row of six in a message
SHOWN = 12  # results a row lists; the rest are counted
RUNNING = {"search_photos": "Searching photos", "search_documents": "Searching documents",
           "search_recordings": "Searching recordings", "search_chats": "Searching chats",
           "look_at_photos": "Looking at photos", "transcribe": "Transcribing"}


def running_text(tool: str, arguments: dict) -> str:
    what = RUNNING.get(tool, f"Running {tool}")
    query = arguments.get("query") if isinstance(arguments, dict) else None
    return f"{what} for '{' '.join(query.split())[:60]}'…" if isinstance(query, str) and query else f"{what}…"


def _amp(text: str) -> str:
    """A button's text as given: & is a shortcut mark to Qt ("Tom & Jerry.jpg" lost its &)."""
    return text.replace("&", "&&")


def plain_tip(text: str) -> str:
    """A tooltip that shows ``text`` as it is. Qt reads a tooltip that looks like HTML as HTML, and an
    <img src="/a/fifo"> in a document's snippet or an imported chat's title then made the GUI thread
    read that file (a FIFO: for ever) as the pointer passed over it."""
    return f"<p>{html.escape(text, quote=False)}</p>" if text else ""


def photo_about(result: dict) -> str:
    """A photo result's when and where in words ("Taken 15 August 2023 at 10:00, in Lisbon, Portugal");
    "" for another kind, or a photo whose result does not say (one stored before they were kept)."""
    def text(key: str) -> str | None:
        value = result.get(key)
        return value if isinstance(value, str) else None

    if result.get("kind") != "photo" or not (text("taken") or text("place")):
        return ""
    return photo_words(text("taken"), text("taken_source"), text("place"))


def _plain_label(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # a snippet or a file name is never markup
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    if name:
        label.setObjectName(name)
    return label


class StepRow(QFrame):
    """One step: a header button (its summary; a click shows or hides the results), then its results."""

    result_opened = Signal(dict)

    def __init__(self, tool: str, arguments: dict, parent=None):
        super().__init__(parent)
        self.setObjectName("stepRow")
        self.tool, self.arguments = tool, arguments
        self.step: StoredStep | None = None
        self.thumbs: dict[str, QToolButton] = {}
        col = QVBoxLayout(self)
        col.setContentsMargins(6, 2, 6, 2)
        col.setSpacing(2)
        self.header = QPushButton()  # left-aligned by the theme; ▸/▾ says it unfolds
        self.header.setObjectName("stepHeader")
        self.header.setFlat(True)
        self.header.setCheckable(True)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.title = ""
        self._set_title(running_text(tool, arguments))
        self.header.toggled.connect(self._toggle)
        col.addWidget(self.header)
        self.strip = QHBoxLayout()  # photos: thumbnails shown even when the row is folded
        self.strip.setSpacing(4)
        col.addLayout(self.strip)
        self.detail = QWidget()
        self.detail_col = QVBoxLayout(self.detail)
        self.detail_col.setContentsMargins(18, 0, 0, 4)
        self.detail.hide()
        col.addWidget(self.detail)
        self.note = _plain_label("", "stepNote")
        self.note.hide()
        col.addWidget(self.note)

    @property
    def running(self) -> bool:
        return self.step is None

    def finish(self, step: StoredStep, hint: str = "") -> None:
        """The step's outcome: summary, results, or its error in words (``hint``: what to do about it)."""
        self.step = step
        if step.damaged and not step.tool:
            self._set_title("A step that could not be read")
        else:
            self._set_title(step.summary or running_text(step.tool, step.arguments).rstrip("…"))
        problems = [p for p in (step.error and f"Failed: {step.error}", step.damaged and f"Damaged: {step.damaged}",
                                hint) if p]
        if problems:
            self.note.setText("\n".join(problems))
            self.note.show()
        photos = [r for r in step.results if r.get("kind") == "photo" and isinstance(r.get("path"), str)]
        for r in photos[:SHOWN]:
            self._thumbnail(r)
        if photos:
            self.strip.addStretch(1)
            self._read_thumbnails([(r["path"], file_path(r) or r["path"]) for r in photos[:SHOWN]])
        for r in step.results[:SHOWN]:
            if r not in photos:
                self.detail_col.addWidget(self._card(r))
        if len(step.results) > SHOWN:
            self.detail_col.addWidget(_plain_label(f"and {len(step.results) - SHOWN} more", "stepMore"))
        if not self.detail_col.count():  # nothing to unfold (photos show folded): a plain line
            self.header.setCheckable(False)
        self._set_title(self.title)

    def _set_title(self, title: str) -> None:
        self.title = title
        mark = ("▾ " if self.header.isChecked() else "▸ ") if self.header.isCheckable() else "   "
        self.header.setText(mark + _amp(title))
        self.header.setAccessibleName(f"Tool step: {title}")

    def _toggle(self, on: bool) -> None:
        self._set_title(self.title)
        self.detail.setVisible(on)

    def _card(self, result: dict) -> QWidget:
        """A passage: its place (a recording's time, a document's page) and its words; a click opens it."""
        b = QPushButton()  # its text left-aligned by the theme (QToolButton's cannot be)
        b.setObjectName("stepResult")
        b.setFlat(True)
        b.setCursor(Qt.CursorShape.PointingHandCursor)
        b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the message
        start = result.get("start")
        place = clock(start) if isinstance(start, (int, float)) and result.get("kind") == "transcript" else ""
        text = " ".join(str(result.get("text", "")).split())
        head = f"{place}  {result.get('title', '')}" if place else where(result)
        b.setText(_amp(f"{head}\n{text[:200]}" if text else head))
        b.setToolTip(plain_tip(text[:1000]))
        b.setAccessibleName(f"Open {where(result)}")
        b.clicked.connect(lambda _=False, r=result: self.result_opened.emit(r))
        return b

    def _thumbnail(self, result: dict) -> None:
        path = result["path"]
        b = QToolButton()
        b.setObjectName("stepPhoto")
        b.setAutoRaise(True)
        b.setIconSize(QSize(THUMB, THUMB))
        b.setFixedSize(THUMB + 8, THUMB + 8)
        b.setText(_amp(result.get("title") or path))
        about = photo_about(result)
        b.setToolTip(plain_tip(result.get("title") or path) + plain_tip(about))
        b.setAccessibleName(f"Open photo {result.get('title') or path}" + (f". {about}" if about else ""))
        b.clicked.connect(lambda _=False, r=result: self.result_opened.emit(r))
        self.strip.addWidget(b)
        self.thumbs[path] = b

    def _read_thumbnails(self, paths: list[tuple[str, str]]) -> None:
        """(shown path, file) pairs: the thumbnails, read off this thread, of the files in the user's folders."""
        from app.gui.images.results import _Signals

        if not hasattr(self, "_signals"):
            self._signals = _Signals(self)
            self._signals.done.connect(self._thumb_ready)
        self._shown_as = {file: shown for shown, file in paths}
        QThreadPool.globalInstance().start(_FolderThumbs([file for _, file in paths], self._signals))

    def _thumb_ready(self, path: str, image: QImage) -> None:
        b = self.thumbs.get(self._shown_as.get(path, path))
        if b is not None and not image.isNull():
            b.setIcon(QIcon(QPixmap.fromImage(image)))


class _FolderThumbs(QRunnable):
    """A row's thumbnails, each only for a file in the folders the user added: a chat read back or
    imported may name any path (a FIFO, a device, a file the user never added), and opening one is
    refused; reading it for a thumbnail would not be. The folders are read once, here, off the GUI thread."""

    def __init__(self, paths: list[str], signals):
        super().__init__()
        self.paths, self.signals = paths, signals

    def run(self) -> None:
        from app.core.ask.tools import inside, user_folders
        from app.gui.images.results import _ThumbJob  # the Images grid's reader: cached, allow-listed formats

        folders = user_folders()
        for path in self.paths:
            if isinstance(inside(path, folders), str):
                log.info("no thumbnail for a step's photo outside the added folders")
                continue
            _ThumbJob(path, self.signals).run()


class StepsView(QWidget):
    """A message's steps, in order; rows appear as steps start and fill in as they finish."""

    result_opened = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("stepsView")
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(2)
        self.rows: list[StepRow] = []

    def _row(self, tool: str, arguments: dict) -> StepRow:
        row = StepRow(tool, arguments)
        row.result_opened.connect(self.result_opened)
        self.column.addWidget(row)
        self.rows.append(row)
        return row

    def show_steps(self, done: list[StoredStep], running: tuple[str, dict] | None = None, hint=None) -> None:
        """Brings the rows up to date: ``done`` finished steps, then the one ``running``, if any.
        ``hint(step)``: a line under a failed step (the vision models that fit, for a blind model)."""
        for i, step in enumerate(done):
            row = self.rows[i] if i < len(self.rows) else self._row(step.tool, step.arguments)
            if row.running:
                row.finish(step, hint(step) if hint else "")
        if running is not None and len(self.rows) == len(done):
            self._row(*running)
        elif running is None:  # ended (stopped, failed): a row still running did not finish
            for row in self.rows[len(done):]:
                if row.running:
                    row.finish(StoredStep(row.tool, row.arguments, error="stopped",
                                          summary=row.title.rstrip("…") + ": stopped"))
        self.setVisible(bool(self.rows))
