"""The Chat pane's composer: the message box and the buttons beside it, dictation into it, text from
elsewhere, and the draft that survives a crash.

A mixin of ChatPane (it uses the pane's notice, job and editing state), kept apart so the pane stays
about conversations and replies.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.core import paths
from app.core.fileio import atomic_write_text
from app.gui import theme
from app.gui.chat.message_view import READABLE_WIDTH
from app.gui.chat.picture_input import attachments_in
from app.gui.panes.base import button

log = logging.getLogger(__name__)


def draft_file():
    return paths.data_dir() / "chat-draft.txt"


class ChatInput(QPlainTextEdit):
    """Enter sends; Shift+Enter starts a new line; Tab moves focus (Ctrl+Tab types one).

    Pictures and documents dropped or pasted in (a copied file) are handed on, not typed.
    """

    submitted = Signal()
    pictures_given = Signal(list)  # file paths (str: pictures and documents) and pasted pictures (PNG bytes)

    def canInsertFromMimeData(self, source):  # noqa: N802 - Qt override
        return bool(attachments_in(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source):  # noqa: N802 - Qt override: drops and Ctrl+V both come here
        given = attachments_in(source)
        if given:
            self.pictures_given.emit(given)
        else:
            super().insertFromMimeData(source)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class Composer:
    def _build_input_row(self) -> QHBoxLayout:
        self.input = ChatInput()
        self.input.setObjectName("chatInput")
        self.input.setAccessibleName("Message")
        self.input.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line)")
        self.input.setMaximumHeight(110)
        self.send_button = button("&Send", "Send")
        self.send_button.setProperty("primary", True)
        theme.set_icon(self.send_button, "send")
        self.stop_button = button("S&top", "Stop")
        theme.set_icon(self.stop_button, "stop")
        self.stop_button.setEnabled(False)
        self.mic_button = QPushButton("Dictate")
        theme.set_icon(self.mic_button, "mic")
        self.mic_button.setCheckable(True)
        self.mic_button.setAccessibleName("Dictate into the message")
        self.mic_button.setEnabled(False)  # until a speech pane lends its dictation
        self.attach_button = button("Attach…", "Attach a picture or a document")
        theme.set_icon(self.attach_button, "attach")
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.attach_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.mic_button)
        # As wide as the messages above it, centred under them (not 1,700 px of text box at 2560 px).
        area = QWidget()
        area.setObjectName("inputArea")
        area.setMaximumWidth(READABLE_WIDTH)
        inner = QHBoxLayout(area)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.input, 1)
        inner.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(area, 100)
        row.addStretch(1)
        return row

    # --- dictation and text from elsewhere ---------------------------------------------
    def set_dictation(self, dictation) -> None:
        self.dictation = dictation
        has_mic = dictation.recorder.default_device() is not None
        self.mic_button.setEnabled(has_mic)
        self.mic_button.setToolTip("" if has_mic else "No microphone found")
        self.mic_button.toggled.connect(self._toggle_mic)
        dictation.final.connect(self._dictated)
        dictation.partial.connect(self._hearing)
        dictation.failed.connect(self._dictation_failed)
        dictation.finished.connect(self._dictation_finished)

    def _toggle_mic(self, on: bool) -> None:
        if on:
            if not self.dictation.start():
                self.mic_button.setChecked(False)
                return
            self.dictating = True
            self.notice.setText("Listening… press Dictate again to stop.")
        else:
            self.dictation.stop()  # words spoken just before still arrive, then dictating ends
            self._clear_notice("Listening…")

    def _dictation_finished(self) -> None:
        self.dictating = self.mic_button.isChecked()

    def _dictated(self, text: str) -> None:
        if self.dictating:
            self.receive_text(text)
            if self.notice.text().startswith("Listening"):
                self.notice.setText("Listening… press Dictate again to stop.")

    def _hearing(self, text: str) -> None:
        """The words of an utterance still going on, as they are heard: they join the message when it ends
        (a long sentence showed nothing until a pause or Stop)."""
        if self.dictating and text and self.notice.text().startswith("Listening"):
            self.notice.setText(f"Listening… “{text.strip()}”")

    def escape_pressed(self) -> None:
        """Esc: stops a reply in progress, or else cancels editing a sent message."""
        if self.job is not None and not self.job.done:
            self.stop()
        elif self.editing_id is not None:
            self.editing_id = None
            self.input.clear()
            self._clear_notice("Editing a sent message")

    # --- the draft ---------------------------------------------------------------------
    def save_draft(self) -> None:
        text = self.input.toPlainText()
        try:
            if text.strip():
                atomic_write_text(draft_file(), text)
            else:
                draft_file().unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not save the chat draft: %s", exc)

    def _restore_draft(self) -> None:
        try:
            text = draft_file().read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if text.strip() and not self.input.toPlainText():
            self.input.setPlainText(text[:100_000])

    def _dictation_failed(self, message: str) -> None:
        if self.mic_button.isChecked():
            self.mic_button.setChecked(False)
            self.notice.setText(message)

    def receive_text(self, text: str) -> None:
        """Text from dictation or the Speech pane joins whatever is in the input."""
        current = self.input.toPlainText().rstrip()
        self.input.setPlainText(f"{current} {text}".strip() if current else text)
        cursor = self.input.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.input.setTextCursor(cursor)
        self.input.setFocus()
