"""The Ctrl+K box: type, and documents, transcripts, photos and chats that match appear grouped by kind.

The search runs off the GUI thread (the find worker; photos on the Images pane's worker) a moment after
typing stops; a newer search makes the older one's results stale, never shown. Up and Down move through
the hits from the line edit, Enter or a double-click opens one (``open_requested``), Escape closes.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from app.core.find import KINDS, FindResult, Hit
from app.core.images.taken_words import photo_words, taken_label

log = logging.getLogger(__name__)
LIMIT = 5  # hits per kind
TYPING_PAUSE_MS = 250
GROUPS = {"document": "Documents", "transcript": "Transcripts", "photo": "Photos", "chat": "Chats"}
NAV_KEYS = {Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp}


def _where(hit: Hit) -> str:
    loc = hit.location
    if loc.start is not None:
        m, s = divmod(int(loc.start), 60)
        return f" · {m:02d}:{s:02d}"
    if loc.page is not None:
        return f" · page {loc.page}"
    return f" · {loc.heading}" if loc.heading else ""


def _photo_line(hit: Hit, metrics: QFontMetrics, width: int) -> str:
    """"IMG_1.jpg · 15 Aug 2023 · Lisbon, Portugal" in one line of ``width`` pixels: the date always whole,
    a long file name cut in its middle to half the line at most, and the place elided into what is left."""
    when, place = taken_label(hit.location.taken, hit.location.taken_source), hit.location.place or ""
    when = f" · {when}" if when else ""
    least = metrics.averageCharWidth() * 10
    whole = metrics.horizontalAdvance(when + (f" · {place}" if place else ""))
    title = metrics.elidedText(hit.title, Qt.TextElideMode.ElideMiddle, max(width // 2, width - whole, least))
    if not place:
        return title + when
    room = width - metrics.horizontalAdvance(f"{title}{when} · ")
    return f"{title}{when} · {metrics.elidedText(place, Qt.TextElideMode.ElideRight, max(room, least))}"


def _photo_words(hit: Hit) -> str:
    """The photo's when and where in full, for its tooltip and its accessible name."""
    return photo_words(hit.location.taken, hit.location.taken_source, hit.location.place)


class FindBox(QDialog):
    open_requested = Signal(object)  # the Hit chosen
    results_shown = Signal(int)  # every part of a search has arrived: the number of hits shown

    def __init__(self, worker, photos=None, parent=None):
        """worker: a FindWorker; photos: app.gui.find.worker.photo_search's submit, or None."""
        super().__init__(parent)
        self.worker, self.photos = worker, photos
        self.setObjectName("findBox")
        self.setWindowTitle("Find")
        self.setAccessibleName("Find in documents, transcripts, photos and chats")
        # A palette over the window, as Ctrl+K is elsewhere: no title bar, no minimise or maximise
        # (a window manager gave the dialog all three); Escape closes it.
        self.setWindowFlags(Qt.WindowType.Dialog | Qt.WindowType.FramelessWindowHint)
        self.setStyleSheet("QDialog#findBox { border: 1px solid palette(mid); border-radius: 6px; }")
        self.resize(640, 460)
        self.edit = QLineEdit()
        self.edit.setObjectName("findQuery")
        self.edit.setAccessibleName("Find")
        self.edit.setPlaceholderText("Search documents, transcripts, photos and chats")
        self.edit.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setObjectName("findResults")
        self.results.setAccessibleName("Results, grouped by kind")
        self.results.setWordWrap(True)
        # A row wraps (a snippet) or is elided (a photo's line): never wider. The items' padding made a wrapped
        # one 3 px wider than the list and showed a sideways scroll bar for it.
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.status = QLabel()
        self.status.setObjectName("findStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(TYPING_PAUSE_MS)
        self.timer.timeout.connect(self.search)
        self.edit.textChanged.connect(lambda _text: self.timer.start())
        self.edit.returnPressed.connect(self._enter)
        self.edit.installEventFilter(self)
        self.results.viewport().installEventFilter(self)  # its width: where a photo's line is elided
        self.results.itemActivated.connect(self._open_item)  # Enter in the list, and a double-click
        self.results.itemPressed.connect(lambda _item: setattr(self, "_chosen", True))
        self._generation = 0
        self._pending = 0
        self._jobs: list = []
        self._found = FindResult()
        self._query = ""  # the text the hits shown are for
        self._chosen = False  # the user has moved to a hit of this search

    # --- showing -------------------------------------------------------------------------
    def show_box(self) -> None:
        if (window := self.parentWidget()) is not None:  # centred, a little below the window's top
            frame = window.frameGeometry()
            width = min(720, max(420, frame.width() - 120))
            height = min(480, max(260, frame.height() - 160))
            self.resize(width, height)
            self.move(frame.x() + (frame.width() - width) // 2, frame.y() + min(90, frame.height() // 8))
        self.show()
        self.raise_()
        self.activateWindow()
        self.edit.setFocus()
        self.edit.selectAll()

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if obj is self.edit and event.type() == QEvent.Type.KeyPress and event.key() in NAV_KEYS:
            self._move(event.key())
            return True
        if obj is self.results.viewport() and event.type() == QEvent.Type.Resize:
            self._relabel()
        return super().eventFilter(obj, event)

    def _move(self, key) -> None:
        rows = [i for i in range(self.results.count()) if self.results.item(i).flags() & Qt.ItemFlag.ItemIsEnabled]
        if not rows:
            return
        now = self.results.currentRow()
        step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5, Qt.Key.Key_PageUp: -5}[key]
        at = rows.index(now) if now in rows else (-1 if step > 0 else len(rows))
        self.results.setCurrentRow(rows[max(0, min(len(rows) - 1, at + step))])
        self._chosen = True

    # --- searching ----------------------------------------------------------------------
    def search(self) -> None:
        self.timer.stop()
        text = self.edit.text().strip()
        self._generation += 1
        for job in self._jobs:
            job.cancel()
        self._jobs, self._found, self._query, self._chosen = [], FindResult(), text, False
        self.results.clear()
        if not text:
            self.status.setText("")
            return
        generation, kinds = self._generation, set(KINDS)
        done = {"on_result": lambda r: self._arrived(generation, r), "on_error": lambda e: self._failed(generation, e)}
        photo_job = self.photos(text, LIMIT, **done) if self.photos is not None else None
        if photo_job is not None:
            kinds.discard("photo")
            self._jobs.append(photo_job)
        self._jobs.append(self.worker.search(text, kinds, LIMIT, **done))
        for job in self._jobs:
            job.cancelled.connect(lambda g=generation: self._arrived(g, FindResult()))
        self._pending = len(self._jobs)
        self.status.setText("Searching…")

    def _arrived(self, generation: int, result: FindResult) -> None:
        if generation != self._generation:
            return  # an older search's, overtaken by typing
        self._found.hits += result.hits
        self._found.skipped.update(result.skipped)
        self._pending -= 1
        self._show()
        if self._pending <= 0:
            self._say_done()
            self.results_shown.emit(len(self._found.hits))

    def _failed(self, generation: int, exc: BaseException) -> None:
        from app.core.jobs import HearthError

        if generation != self._generation:
            return
        reason = str(exc) if isinstance(exc, HearthError) else "an unexpected error (details in the log)"
        self._arrived(generation, FindResult(skipped={"search": reason}))

    def _show(self) -> None:
        current = self.results.currentItem()
        # The user's choice stays chosen as later kinds arrive; untouched, the first hit is the one Enter opens.
        keep = current.data(Qt.ItemDataRole.UserRole) if current is not None and self._chosen else None
        self.results.clear()
        bold = QFont(self.results.font())
        bold.setBold(True)
        for kind, hits in self._found.by_kind().items():
            header = QListWidgetItem(GROUPS[kind])
            header.setFlags(Qt.ItemFlag.NoItemFlags)  # a heading: never selected, skipped by the arrows
            header.setFont(bold)
            self.results.addItem(header)
            for hit in hits:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, hit)
                self._label(item)
                self.results.addItem(item)
                if hit == keep or (keep is None and self.results.currentItem() is None):
                    self.results.setCurrentItem(item)

    def _label(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        more = f"\n{hit.snippet[:200]}" if hit.snippet else ""
        if hit.kind != "photo":
            item.setText(f"{hit.title}{_where(hit)}{more}")
            item.setToolTip(hit.path or hit.title)
            return
        # One line however long the place: elided to the list's width (less the item's margins), whole in the tooltip.
        width = self.results.viewport().width() - 2 * self.results.spacing() - 24
        item.setText(_photo_line(hit, QFontMetrics(self.results.font()), width) + more)
        words = _photo_words(hit)
        item.setToolTip(f"{hit.path or hit.title}\n{words}")
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{hit.title}. {words}" + (f". {hit.snippet}" if more else ""))

    def _relabel(self) -> None:
        for i in range(self.results.count()):  # a photo's line is elided to the width: again at the new one
            item = self.results.item(i)
            hit = item.data(Qt.ItemDataRole.UserRole)
            if isinstance(hit, Hit) and hit.kind == "photo":
                self._label(item)

    def _say_done(self) -> None:
        kinds = {"search": "search", **{k: GROUPS[k].lower() for k in KINDS}}
        left_out = "; ".join(f"{kinds.get(k, k)}: {why}" for k, why in self._found.skipped.items())
        head = "" if self._found.hits else "Nothing found."
        self.status.setText(" ".join(p for p in (head, f"Not searched: {left_out}" if left_out else "") if p))

    # --- opening ------------------------------------------------------------------------
    def _enter(self) -> None:
        item = self.results.currentItem()
        if self.timer.isActive() or self._query != self.edit.text().strip() or item is None:
            self.search()  # the hits shown are for other words: search these first
            return
        self._open_item(item)

    def _open_item(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(hit, Hit):
            self.accept()  # hidden first, so the pane the hit opens in can take the focus back
            self.open_requested.emit(hit)
