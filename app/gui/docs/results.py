"""The Documents pane's search panel: a question box (debounced: a search once typing pauses), the
passages found, and opening one where it is (Enter or a double-click).

A mixin of DocsPane (it uses the pane's docs worker and picker).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QLineEdit, QListView, QVBoxLayout

from app.core.jobs import HearthError
from app.gui.docs.hits import HIT_ROLE, HitDelegate, hit_item
from app.gui.docs.opener import open_document
from app.gui.widgets.placeholder_list import PlaceholderList

log = logging.getLogger(__name__)
SEARCH_DELAY_MS = 350  # typing pauses this long before a search starts
LIMIT = 20
PLACEHOLDER = "Type a question, or words from a document"
NO_MATCH = "Nothing found: try other words"


class ResultsPanel:
    def _build_search(self) -> QVBoxLayout:
        self.query = QLineEdit()
        self.query.setObjectName("docsQuery")
        self.query.setAccessibleName("Search documents")
        self.query.setPlaceholderText("Ask a question, or type words from a document…")
        self.query.setClearButtonEnabled(True)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.search)
        self.query.textChanged.connect(lambda _t: self.search_timer.start())
        self.query.returnPressed.connect(self.search)
        self.hits = PlaceholderList(PLACEHOLDER)
        self.hits.setObjectName("docsResults")
        self.hits.setAccessibleName("Passages found")
        self.hits.setItemDelegate(HitDelegate(self.hits))
        self.hits.setResizeMode(QListView.ResizeMode.Adjust)  # the passages wrap again to a new width
        self.hits.setWordWrap(True)
        self.hits.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hits.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.hits.itemActivated.connect(self.open_hit)  # double-click or Enter
        self.search_message = QLabel()
        self.search_message.setObjectName("docsMessage")
        self.search_message.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.query)
        right.addWidget(self.hits, 1)
        right.addWidget(self.search_message)
        self.search_job = None
        self._searched = ""  # the query the shown results are for
        return right

    def search(self) -> None:
        """Searches for what the box holds now; an older search not yet started is dropped."""
        self.search_timer.stop()
        text = self.query.text().strip()
        if self.search_job is not None and not self.search_job.done:
            self.search_job.cancel()  # not started yet: skipped; running: its result is ignored below
        if not text:
            self.hits.clear()
            self.hits.placeholder = PLACEHOLDER
            self.search_message.clear()
            self.search_job = None
            return
        model_id = self.picker.current()
        if not model_id:
            self.search_message.setText("No text-embedding model installed: open Models to get one.")
            return
        if self.index_job is not None and not self.index_job.done:
            self.search_message.setText("Searching once indexing has finished…")
        else:
            self.search_message.setText("Searching…")
        job = self.docs.search(model_id, text, LIMIT, on_error=self._search_failed)
        job.succeeded.connect(lambda hits, j=job, q=text: self._show_hits(j, q, hits))
        self.search_job = job

    def _show_hits(self, job, query: str, hits) -> None:
        if job is not self.search_job:  # the user has typed on since
            return
        self._searched = query
        self.hits.clear()
        for hit in hits:
            self.hits.addItem(hit_item(hit, query))
        self.hits.placeholder = NO_MATCH
        self.hits.viewport().update()
        self.search_message.setText(f"{len(hits)} passage{'s' if len(hits) != 1 else ''} found." if hits
                                    else "Nothing found.")
        self.results_ready.emit(len(hits))

    def _search_failed(self, exc) -> None:
        log.warning("document search failed: %s", exc)
        self.search_message.setText(str(exc) if isinstance(exc, HearthError)
                                    else "The search failed: see the log for details.")
        self.results_ready.emit(-1)

    def open_hit(self, item) -> None:
        hit = item.data(HIT_ROLE) if item is not None else None
        if hit is not None and not open_document(hit.path, hit.page):
            self.search_message.setText(f"No application on this computer opens {hit.path}.")
