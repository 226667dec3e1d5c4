"""The Chat pane's "Ask Hearth" part (#26): the "Use my library" switch (per chat; on by default once
the user has indexed something) with what it can reach, the send path that runs the ask loop on the
chat worker when it is on, the steps and citations in the assistant's message, and opening a result.

A mixin of ChatPane (it uses the pane's history, worker, view, notice and first-run line).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from app.core.chat.steps import StoredStep, clean_step

log = logging.getLogger(__name__)
SETTING = "use_library"  # the switch, in the chat's saved params


def library_reach() -> tuple[str, bool]:
    """What "Use my library" can reach, in words ("Photos, 2 folders · Documents, 1 folder"), and
    whether there is anything. Reads the indexes: on a worker thread, never the GUI's."""
    from app.core.jobs import HearthError

    parts = []

    def count(what: str, n: int, unit: str = "folder") -> None:
        if n:
            parts.append(f"{what}, {n} {unit}{'s' if n != 1 else ''}")

    try:
        from app.core.images.index import ImageIndex
        from app.core.images.index import default_path as images_path

        if images_path().exists():
            index = ImageIndex(images_path())
            try:
                count("Photos", len(index.folders()))
            finally:
                index.close()
    except HearthError as exc:
        log.warning("the photo index could not be read for the library switch: %s", exc)
    try:
        from app.core.docs.index import DocsIndex
        from app.core.docs.index import default_path as docs_path

        if docs_path().exists():
            docs = DocsIndex(docs_path())
            try:
                count("Documents", len(docs.folders()))
            finally:
                docs.close()
    except HearthError as exc:
        log.warning("the documents index could not be read for the library switch: %s", exc)
    from app.core.speech.transcripts import TranscriptStore

    folder = TranscriptStore().folder
    count("Recordings", sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0, "transcript")
    return (" · ".join(parts), True) if parts else ("Nothing indexed yet: add folders in Images or Documents", False)


class Asking:
    ask_first_tool: str | None = None  # the loop's first step (the CLI's --first-tool; a test's small model)

    def _build_library(self) -> QWidget:
        """The switch and its reach, centred over the message box and as wide (composer.py)."""
        from app.gui.chat.message_view import READABLE_WIDTH

        outer = QWidget()
        centred = QHBoxLayout(outer)
        centred.setContentsMargins(0, 0, 0, 0)
        row = QWidget()
        row.setMaximumWidth(READABLE_WIDTH)
        centred.addStretch(1)
        centred.addWidget(row, 100)
        centred.addStretch(1)
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.setSpacing(12)
        self.library = QCheckBox("Use my library")
        self.library.setObjectName("useLibrary")
        self.library.setToolTip("Let the model search your photos, documents and recordings, and cite them")
        self.library.setAccessibleName("Use my library")
        self.library_reach = QLabel()
        self.library_reach.setObjectName("libraryReach")
        self.library_reach.setTextFormat(Qt.TextFormat.PlainText)
        self.library_reach.setWordWrap(True)  # else its one line sets the pane's least width (1024 px, settings open)
        line.addWidget(self.library)
        line.addWidget(self.library_reach, 1)
        self.library_indexed = False
        self._library_chosen: bool | None = None  # this chat's saved choice (None: the default)
        self.library.toggled.connect(self._library_toggled)
        return outer

    def showEvent(self, event):  # noqa: N802 - Qt override: folders may have been added in another pane
        super().showEvent(event)
        self.refresh_library()

    def refresh_library(self) -> None:
        """Reads what the switch can reach, on the pictures worker (idle but for a picture)."""
        if self._closing:
            return
        self.tray.worker.submit(lambda _c, _p: library_reach(), name="library-reach", on_result=self._reached)

    def _reached(self, result) -> None:
        if self._closing:
            return
        self.library_reach.setText(result[0])
        self.library_indexed = result[1]
        self._apply_library()

    def load_library(self, params: dict | None) -> None:
        """A chat opened (``params``: its saved settings) or a new one (None): its switch."""
        value = (params or {}).get(SETTING)
        self._library_chosen = value if isinstance(value, bool) else None
        self._apply_library()

    def _apply_library(self) -> None:
        self.library.blockSignals(True)
        self.library.setChecked(self.library_indexed if self._library_chosen is None else self._library_chosen)
        self.library.blockSignals(False)

    def _library_toggled(self, on: bool) -> None:
        self._library_chosen = on
        self._save_conversation_settings()

    def chat_params(self) -> dict:
        """The chat's saved settings: the sampling settings and the switch."""
        return {**self.settings_panel.params().to_dict(), SETTING: self.library.isChecked()}

    # --- asking ----------------------------------------------------------------------------
    def asks(self) -> bool:
        """Whether this reply runs the ask loop: the switch is on, and the question brings no pictures or
        documents (the loop is asked the words alone; those go to the model as a plain reply)."""
        if not self.library.isChecked() or self.conversation_id is None:
            return False
        users = [m for m in self.history.messages(self.conversation_id) if m.role == "user"]
        return not (users and (users[-1].attachments or users[-1].documents))

    def _start_ask(self) -> None:
        self.job = self.chat.ask(
            self.conversation_id, self.settings_panel.params(), sees=self.sees, first_tool=self.ask_first_tool,
            on_progress=self._on_ask_progress, on_result=self._on_asked, on_error=self._on_failed,
        )
        self.job.cancelled.connect(lambda: self._finish_ui(None))

    def _on_ask_progress(self, progress) -> None:
        if isinstance(progress, str):  # "Restarting the model…"
            self._on_text(progress)
            return
        widget = self.streaming
        if widget is None or self._closing:
            return
        widget.set_steps([clean_step(s) for s in progress.steps], progress.running, self.step_hint)
        if progress.text:
            self._on_text(progress.text)

    def _on_asked(self, result) -> None:
        if self._closing:
            return
        widget = self.streaming
        if widget is not None:
            widget.message_id = result.message_id
            widget.set_steps([clean_step(s) for s in result.steps], None, self.step_hint)
            widget.set_text(result.text)
            widget.set_citations(result.citations)
            widget.set_stats(result.stats, result.stop_reason in ("cancelled", "error"))
        if result.error:
            self.notice.setText(f"The answer stopped early: {result.error}")
        self._finish_ui(result)

    def show_parts(self, widget, message) -> None:
        """A stored message's steps and citations in its widget."""
        if message.steps:
            widget.set_steps(message.steps, None, self.step_hint)
        if message.citations:
            widget.set_citations(message.citations)

    def step_hint(self, step: StoredStep) -> str:
        """A look at photos that failed for want of a model that sees names the vision models that fit."""
        if step.tool == "look_at_photos" and step.error and not self.sees:
            return self.vision_reason()
        return ""

    def open_result(self, result: dict) -> None:
        """Opens a result, a file only where it lies in the folders the user added (the tools' rule: a
        chat read back, or imported, may name any path). The folders are read on the pictures worker."""
        self.tray.worker.submit(lambda _c, _p: _allowed(result), name="open-result", on_result=self._open_checked)

    def _open_checked(self, checked) -> None:
        result, refused = checked
        if self._closing:
            return
        from app.gui.chat.sources import open_result

        problem = refused or open_result(self, result)
        if problem:
            self.notice.setText(problem[0].upper() + problem[1:])


def _allowed(result: dict) -> tuple[dict, str]:
    """(the result, "" or why it is not opened): a file outside the user's folders is not."""
    from app.core.chat.steps import file_path

    path = file_path(result)
    if path is None:
        return result, ""  # a transcript or a chat: opened by its id, in its pane
    from app.core.ask.tools import inside, user_folders

    real = inside(path, user_folders())
    return (result, "") if not isinstance(real, str) else (result, real)
