"""The Chat pane's first-run card: one line over an empty conversation saying what the model is
(none yet, or a base model that continues text), and the one button that helps.

A mixin of ChatPane (it uses the pane's picker, view and hardware).
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.core.models.sizes import human_size as human
from app.gui import theme
from app.gui.chat.message_view import READABLE_WIDTH

log = logging.getLogger(__name__)


class FirstRunCard:
    def _build_first_run(self) -> QWidget:
        """One line on an empty conversation: what the model is, and the one button that helps."""
        self.first_run = QFrame()
        self.first_run.setObjectName("emptyState")
        self.first_run.setMaximumWidth(READABLE_WIDTH)
        row = QHBoxLayout(self.first_run)
        row.setContentsMargins(12, 8, 12, 8)
        self.first_run_text = QLabel()
        self.first_run_text.setObjectName("firstRunText")
        self.first_run_text.setWordWrap(True)
        row.addWidget(self.first_run_text, 1)
        self.first_run_button = QPushButton()
        self.first_run_button.setProperty("primary", True)
        self.first_run_button.setAccessibleName("Download a chat model")  # until update_first_run names it
        theme.set_icon(self.first_run_button, "download")
        self.first_run_button.clicked.connect(self._first_run_clicked)
        row.addWidget(self.first_run_button)
        self.first_run.hide()
        return self.first_run

    def update_first_run(self) -> None:
        """Shown on an empty conversation only: no model yet, or a base (not chat-tuned) model."""
        from app.core.models import speed
        from app.core.models.catalog import load_catalog
        from app.core.models.starter import STARTERS

        model_id = self.picker.current()
        base = {s.id for s in STARTERS if s.kind == "chat"}
        empty = not self.view.widgets
        self.suggested, self.suggested_label = None, ""
        # With no model the card says so: the picker's own "No chat model installed yet" would say it twice.
        self.picker.status.setVisible(bool(model_id) or not empty)
        if not empty or (model_id and model_id not in base):
            self.first_run.hide()  # and no recommendation worked out for it (the catalog, the speeds)
            return
        if self.hardware is not None:
            try:
                best = speed.recommend(load_catalog(), self.hardware, "chat")
            except Exception as exc:  # noqa: BLE001 - a damaged catalog is reported by the Models pane
                log.warning("no recommendation: %s", exc)
                best = None
            self.suggested = best.id if best else None
            self.suggested_label = best.name if best else ""
            size = human(best.size) if best else ""
        tip = f" {self.suggested_label} runs well on this computer." if self.suggested else ""
        if not model_id:
            self.first_run_text.setText(f"No chat model yet.{tip or ' Download one to start chatting.'}")
        else:
            self.first_run_text.setText(
                f"{model_id} is a small base model: it continues text rather than following instructions.{tip}")
        # The name is in the sentence; the button stays short enough for the smallest window.
        self.first_run_button.setText(f"Download ({size})" if self.suggested else "Open Models")
        self.first_run_button.setAccessibleName(
            f"Download {self.suggested_label} ({size})" if self.suggested else "Open Models")
        self.first_run.show()

    def _first_run_clicked(self) -> None:
        self.download_requested.emit(self.suggested or "")
