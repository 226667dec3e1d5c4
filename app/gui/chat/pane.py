"""The Chat pane: conversations, streaming replies, and the controls around them."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.chat.history import ChatHistory
from app.core.fileio import atomic_write_text
from app.core.jobs import HearthError
from app.gui import theme
from app.gui.chat.attachments import AttachmentTray
from app.gui.chat.message_view import READABLE_WIDTH, ConversationView, MessageWidget
from app.gui.chat.picture_input import PictureInput, pictures_in
from app.gui.chat.settings_panel import ChatSettingsPanel
from app.gui.chat.sidebar import ConversationList
from app.gui.chat.transfer import ChatTransfer
from app.gui.chat.worker import ChatWorker
from app.gui.models.table import human
from app.gui.panes.base import ModelBackedPane, button

log = logging.getLogger(__name__)


def draft_file():
    return paths.data_dir() / "chat-draft.txt"


class ChatInput(QPlainTextEdit):
    """Enter sends; Shift+Enter starts a new line; Tab moves focus (Ctrl+Tab types one).

    Pictures dropped or pasted in are handed on, not typed.
    """

    submitted = Signal()
    pictures_given = Signal(list)  # file paths (str) and pasted pictures (PNG bytes)

    def canInsertFromMimeData(self, source):  # noqa: N802 - Qt override
        return bool(pictures_in(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source):  # noqa: N802 - Qt override: drops and Ctrl+V both come here
        pictures = pictures_in(source)
        if pictures:
            self.pictures_given.emit(pictures)
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


class ChatPane(PictureInput, ModelBackedPane):
    kind, title = "chat", "Chat"
    blurb = "Talk with a language model that runs on this computer. Nothing you type leaves it."

    reply_finished = Signal(object)  # TurnResult, or the exception
    download_requested = Signal(str)  # a catalog model id the user asked for from the first-run line

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        self.history = ChatHistory()
        self.chat = ChatWorker(self)
        self.transfer = ChatTransfer(self.history.path, self)
        self.conversation_id: int | None = None
        self.job = None
        self.loaded_model: str | None = None
        self.loaded_format: str | None = None
        self.streaming: MessageWidget | None = None
        self.editing_id: int | None = None
        self.dictation = None  # the Speech pane's, lent by the window
        self.dictating = False  # dictated words go into the input only while true
        self.tray = AttachmentTray()
        self.sees = False  # the chosen model takes pictures
        self.hardware = None
        self.suggested: str | None = None  # the instruct model the first-run line offers
        self.suggested_label = ""  # its catalog name and size, as the button says it

        self.sidebar = ConversationList(self.history)
        self.view = ConversationView()
        self.settings_panel = ChatSettingsPanel()
        self._closing = False
        self.body.addWidget(self._build_split(), 1)
        self._connect()
        self._build_shortcuts()
        self._set_tab_order()
        self._open_latest()

    # --- building ------------------------------------------------------------------------
    def _build_split(self) -> QSplitter:
        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(self._build_centre())
        split.addWidget(self.settings_panel)
        # The chat list takes a share of a wider window too (not a fixed 200 px strip at 2560 px).
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 5)
        split.setSizes([200, 600, 240])
        self.settings_panel.hide()  # shown on demand, so the pane fits small screens
        return split

    def _build_centre(self) -> QWidget:
        self.notice = QLabel()
        self.notice.setObjectName("chatNotice")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # it quotes servers' errors: never HTML
        self.notice.setWordWrap(True)
        centre = QWidget()
        col = QVBoxLayout(centre)
        col.setContentsMargins(0, 0, 0, 0)
        first_run = QHBoxLayout()  # centred over the conversation, as wide as a message at most
        first_run.addStretch(1)
        first_run.addWidget(self._build_first_run(), 100)
        first_run.addStretch(1)
        col.addLayout(first_run)
        col.addWidget(self.view, 1)
        col.addWidget(self.notice)
        col.addWidget(self.tray)
        col.addLayout(self._build_input_row())
        col.addLayout(self._build_exports())
        return centre

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

    def set_hardware(self, hardware) -> None:
        self.hardware = hardware
        self.update_first_run()

    def update_first_run(self) -> None:
        """Shown on an empty conversation only: no model yet, or a base (not chat-tuned) model."""
        from app.core.models import speed
        from app.core.models.catalog import load_catalog
        from app.core.models.starter import STARTERS

        model_id = self.picker.current()
        base = {s.id for s in STARTERS if s.kind == "chat"}
        empty = not self.view.widgets
        self.suggested, self.suggested_label = None, ""
        if self.hardware is not None:
            try:
                best = speed.recommend(load_catalog(), self.hardware, "chat")
            except Exception as exc:  # noqa: BLE001 - a damaged catalog is reported by the Models pane
                log.warning("no recommendation: %s", exc)
                best = None
            self.suggested = best.id if best else None
            self.suggested_label = best.name if best else ""
            size = human(best.size) if best else ""
        # With no model the card says so: the picker's own "No chat model installed yet" would say it twice.
        self.picker.status.setVisible(bool(model_id) or not empty)
        if not empty or (model_id and model_id not in base):
            self.first_run.hide()
            return
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
        self.attach_button = button("Picture…", "Attach a picture")
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

    def _build_exports(self) -> QHBoxLayout:
        self.settings_toggle = button("Chat settings", "Show chat settings")
        self.settings_toggle.setCheckable(True)
        self.export_md = button("Export Markdown…", "Export as Markdown")
        self.export_json = button("Export JSON…", "Export as JSON")
        theme.set_icon(self.settings_toggle, "settings")
        theme.set_icon(self.export_md, "export")
        theme.set_icon(self.export_json, "export")
        exports = QHBoxLayout()
        exports.addWidget(self.settings_toggle)
        exports.addStretch(1)
        exports.addWidget(self.export_md)
        exports.addWidget(self.export_json)
        return exports

    def _connect(self) -> None:
        self.settings_toggle.toggled.connect(self.settings_panel.setVisible)
        self.send_button.clicked.connect(self.send)
        self.input.submitted.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.sidebar.selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.rename_requested.connect(self._rename)
        self.sidebar.delete_requested.connect(self._delete)
        self.sidebar.import_requested.connect(self.import_chat)
        self.transfer.notice.connect(self.notice.setText)
        self.transfer.imported.connect(self._imported)
        self.settings_panel.changed.connect(self._save_conversation_settings)
        self.picker.changed.connect(lambda _id: self.ensure_model())
        self.picker.changed.connect(lambda _id: self.update_vision())
        self.attach_button.clicked.connect(self._ask_pictures)
        self.input.pictures_given.connect(self.attach_sources)
        self.tray.failed.connect(self._picture_failed)
        self.tray.removed.connect(self._forget_unsent)
        self.update_vision()
        self.export_md.clicked.connect(lambda: self._export("md"))
        self.export_json.clicked.connect(lambda: self._export("json"))

    def _build_shortcuts(self) -> None:
        self.escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.escape.activated.connect(self.escape_pressed)
        # The draft is written shortly after each change, so a crash loses at most a moment of typing.
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(400)
        self._draft_timer.timeout.connect(self.save_draft)
        self.input.textChanged.connect(self._draft_timer.start)
        self._restore_draft()

    def _set_tab_order(self) -> None:
        chain = [
            self.picker.combo, self.picker.manage, self.sidebar.search, self.sidebar.list,
            self.sidebar.new_button, self.sidebar.rename_button, self.sidebar.delete_button,
            self.sidebar.import_button, self.input,
            self.send_button, self.attach_button, self.stop_button, self.mic_button, self.settings_toggle,
            self.export_md, self.export_json,
        ]
        for a, b in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(a, b)

    def _open_latest(self) -> None:
        self.picker.changed.connect(lambda _id: self.update_first_run())
        if self.history.notice:
            self.notice.setText(self.history.notice)
        self.sidebar.refresh()
        convs = self.history.conversations()
        if convs:
            self.sidebar.refresh(select=convs[0].id)
            self.open_conversation(convs[0].id)

    # --- dictation and text from elsewhere ---------------------------------------------
    def set_dictation(self, dictation) -> None:
        self.dictation = dictation
        has_mic = dictation.recorder.default_device() is not None
        self.mic_button.setEnabled(has_mic)
        self.mic_button.setToolTip("" if has_mic else "No microphone found")
        self.mic_button.toggled.connect(self._toggle_mic)
        dictation.final.connect(self._dictated)
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

    def _clear_notice(self, prefix: str) -> None:
        if self.notice.text().startswith(prefix):
            self.notice.clear()

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

    # --- conversations ---------------------------------------------------------------
    def new_conversation(self) -> None:
        if self.job is not None and not self.job.done:
            return  # the reply in progress belongs to the open chat
        self.conversation_id = None
        self.view.clear()
        self.update_first_run()
        self.settings_panel.load("", {})
        self.sidebar.list.clearSelection()
        self.input.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if self.job is not None and not self.job.done:
            return  # switching away mid-reply would hide the stream; the list follows after
        self.conversation_id = conversation_id
        conv = self.history.conversation(conversation_id)
        self.settings_panel.load(conv.system_prompt, conv.params)
        self.view.clear()
        for m in self.history.messages(conversation_id):
            w = self._add_widget(m.id, m.role, m.content, m.attachments)
            if m.role == "assistant":
                w.set_stats(m.stats, m.incomplete)
            if m.damaged:  # shown as it is; the rest of the chat works
                w.set_status(f"Damaged in the history file: {m.damaged}")
        self.update_first_run()

    def _ensure_conversation(self, first_message: str) -> int:
        if self.conversation_id is None:
            title = " ".join(first_message.split())[:48] or "New chat"
            conv = self.history.create(
                title, self.settings_panel.system.toPlainText(), self.picker.current() or "",
                self.settings_panel.params().to_dict(),
            )
            self.conversation_id = conv.id
            self.sidebar.refresh(select=conv.id)
        return self.conversation_id

    def _save_conversation_settings(self) -> None:
        if self.conversation_id is not None and not self.history.read_only:
            self.history.update(
                self.conversation_id,
                system_prompt=self.settings_panel.system.toPlainText(),
                params=self.settings_panel.params().to_dict(),
            )

    def _rename(self, conversation_id: int) -> None:
        conv = self.history.conversation(conversation_id)
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=conv.title)
        if ok and title.strip():
            self.history.update(conversation_id, title=title.strip())
            self.sidebar.refresh()

    def _delete(self, conversation_id: int) -> None:
        conv = self.history.conversation(conversation_id)
        answer = QMessageBox.question(self, "Delete chat", f"Delete “{conv.title}” and all its messages?")
        if answer == QMessageBox.StandardButton.Yes:
            self.history.delete(conversation_id)
            if conversation_id == self.conversation_id:
                self.new_conversation()
            self.sidebar.refresh()

    # --- model -------------------------------------------------------------------------
    def ensure_model(self) -> bool:
        self.update_vision()  # the store may have changed under the picker (an import, a download)
        model_id = self.picker.current()
        if not model_id:
            self.notice.setText("No chat model installed: open Models to add one.")
            return False
        fmt = self.settings_panel.chat_format()
        if model_id == self.loaded_model and fmt == self.loaded_format:
            return True
        if self.job is not None and not self.job.done:
            self.job.cancel()  # the old model's reply stops (its process is ended if stuck), so the load never waits
        self.loaded_model, self.loaded_format = model_id, fmt
        self.notice.setText(f"Loading {model_id}…")
        self.chat.load(
            model_id, self.settings.chat_context, fmt, self.settings.chat_threads, self.settings.chat_gpu_layers,
            on_result=self._loaded, on_error=self._load_failed,
        )
        return True

    def _loaded(self, result) -> None:
        model_id, notices, n_ctx = result
        text = f"{model_id} is ready (context {n_ctx} tokens)."
        if notices:
            text += " " + " ".join(n[0].upper() + n[1:] + "." for n in notices)
        self.notice.setText(text)

    def settings_changed(self) -> None:
        """Context, threads or GPU layers changed: the next message reloads the model with them."""
        self.loaded_model = None

    def _load_failed(self, exc) -> None:
        model_id = self.loaded_model
        self.loaded_model = None
        if self._closing:
            return
        if model_id:
            self.picker.status.setText(f"Could not load {model_id}.")
        self.notice.setText(f"Could not load the model: {exc}")
        log.warning("chat model load failed: %s", exc)

    # --- sending -----------------------------------------------------------------------
    def send(self) -> None:
        text = self.input.toPlainText().strip()
        pictures = self.tray.pictures
        if self.job is not None and not self.job.done:
            return
        if self.tray.pending:
            self.notice.setText("A picture is still being prepared; send again in a moment.")
            return
        if not text and not pictures:
            self.notice.setText("Type a message first.")
            return
        if pictures and not self.sees:
            self.notice.setText(self.vision_reason())
            return
        if self.history.read_only:
            self.notice.setText(self.history.notice)
            return
        if not self.ensure_model():
            return
        if self.editing_id is not None:
            self.history.edit_message(self.editing_id, text)
            self.history.truncate_after(self.conversation_id, self.editing_id)
            self.editing_id = None
            self._clear_notice("Editing a sent message")
            self.open_conversation(self.conversation_id)
        else:
            from app.core.chat.session import add_user_message

            cid = self._ensure_conversation(text or "Picture: " + pictures[0].name)
            try:
                msg = add_user_message(self.history, cid, text, pictures)
            except HearthError as exc:  # a history that cannot hold pictures: nothing was sent
                self.notice.setText(str(exc))
                return
            self._add_widget(msg.id, "user", text, msg.attachments)
            self.tray.clear(sent=True)
        self.input.clear()
        self._start_reply()

    def _start_reply(self) -> None:
        self.first_run.hide()
        self.streaming = self._add_widget(-1, "assistant", "")
        self.streaming.set_stats({}, False)
        self.streaming.set_status("thinking…")
        if not self.notice.text().startswith(("Loading", "Editing")):
            self.notice.clear()  # an earlier failure or notice ends with a new reply
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.job = self.chat.generate(
            self.conversation_id,
            self.settings_panel.params(),
            on_progress=self._on_text,
            on_result=self._on_done,
            on_error=self._on_failed,
        )
        self.job.cancelled.connect(lambda: self._finish_ui(None))

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_text(self, text: str) -> None:
        if self.streaming is not None and not self._closing:
            if self.streaming.stats.text() == "thinking…":
                self.streaming.set_status("")
            self.streaming.set_text(text)
            self._clear_notice("Loading")
        shown = self.notice.text()
        if shown and shown == self.notice.property("replyError") and text != "Restarting the model…":
            self.notice.clear()  # the model answers again: its last failure is history

    def _on_done(self, result) -> None:
        if self._closing:
            return
        widget = self.streaming
        if widget is not None:
            widget.message_id = result.message_id
            widget.set_text(result.text)
            widget.set_stats(result.stats.to_dict(), result.stats.stop_reason == "cancelled")
        self._record_speed(result.stats)
        if result.stats.dropped_messages:
            self.notice.setText(
                f"{result.stats.dropped_messages} older message(s) no longer fit the model's context and were "
                "left out of the prompt. They are still saved here."
            )
        self._finish_ui(result)

    def _record_speed(self, stats) -> None:
        """A real reply on the CPU calibrates the speed estimates of the Models pane (app.core.models.speed)."""
        if (stats.completion_tokens or 0) < 8 or not stats.tokens_per_second or self.settings.chat_gpu_layers > 0:
            return
        from app.core.models import speed
        from app.core.models.store import ModelStore

        try:
            entry = ModelStore().get(self.loaded_model or "")
        except HearthError:
            return
        if entry is not None and (self.hardware is None or not self.hardware.gpus):
            speed.record("chat", entry.id, entry.size, stats.tokens_per_second)

    def _on_failed(self, exc) -> None:
        if self._closing:
            return
        if self.streaming is not None:
            self.streaming.set_status("failed")
        self.notice.setText(f"The reply failed: {exc}" if isinstance(exc, HearthError) else f"Error: {exc!r}")
        self.notice.setProperty("replyError", self.notice.text())  # cleared when a reply streams again
        if not isinstance(exc, HearthError):
            from app.gui.errors import reporter

            reporter().report(exc, where="chat")
        self._finish_ui(exc)

    def _finish_ui(self, outcome) -> None:
        if self._closing:
            return  # quitting: the history is closed; the worker saved the reply as incomplete
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        widget = self.streaming
        if widget is not None and widget.message_id < 0 and self.conversation_id is not None:
            # Stopped before any stats, or failed: show what was saved, marked incomplete.
            saved = [m for m in self.history.messages(self.conversation_id) if m.role == "assistant"]
            if saved:
                widget.message_id = saved[-1].id
                widget.set_text(saved[-1].content)
                widget.set_stats(saved[-1].stats, saved[-1].incomplete)
        self.streaming = None
        self.sidebar.refresh()
        self.reply_finished.emit(outcome)

    # --- message actions ---------------------------------------------------------------
    def _add_widget(self, message_id: int, role: str, text: str, attachments=()) -> MessageWidget:
        w = MessageWidget(message_id, role, text)
        if attachments:
            from app.core.chat.pictures import PictureStore

            store = PictureStore()
            w.add_pictures([(store.path_of(a.sha256), a.name) for a in attachments])
            w.picture_opened.connect(lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        w.copy_requested.connect(lambda _id, w=w: QGuiApplication.clipboard().setText(w.text))
        w.edit_requested.connect(lambda _id, w=w: self._edit(w))
        w.regenerate_requested.connect(lambda _id, w=w: self.regenerate(w))
        return self.view.add(w)

    def _edit(self, widget: MessageWidget) -> None:
        self.editing_id = widget.message_id
        self.input.setPlainText(widget.text)
        self.input.setFocus()
        self.notice.setText("Editing a sent message: Send replaces it and the replies after it.")

    def regenerate(self, widget: MessageWidget) -> None:
        if (self.job is not None and not self.job.done) or widget.message_id < 0:
            return
        if not self.ensure_model():
            return
        self.history.truncate_after(self.conversation_id, widget.message_id, inclusive=True)
        self.open_conversation(self.conversation_id)
        self._start_reply()

    def _export(self, kind: str) -> None:
        if self.conversation_id is None:
            self.notice.setText("Open a chat to export it.")
            return
        from app.gui.dialogs.export import ask_export_path

        conv = self.history.conversation(self.conversation_id)
        path = ask_export_path(self, "Export chat", conv.title, kind, "chat")
        if path is not None:
            self.export_to(path, kind)

    def export_to(self, path: Path, kind: str):
        """Exports the open chat with its pictures beside the file, on the files worker; returns the job."""
        return self.transfer.export(self.conversation_id, path, kind)

    def import_chat(self) -> None:
        from app.gui.dialogs.export import ask_import_path

        path = ask_import_path(self, "Import chat", "json")
        if path is not None:
            self.import_from(path)

    def import_from(self, path: Path):
        """Imports a JSON export on the files worker; the chat appears in the list and opens. Returns the job."""
        return self.transfer.import_file(path)

    def _imported(self, conversation_id: int) -> None:
        if self._closing:
            return
        self.sidebar.refresh(select=conversation_id)
        self.open_conversation(conversation_id)  # not while a reply streams: the list shows it meanwhile

    def finish_workers(self) -> list:
        """Quit: stops the reply (the worker saves it as incomplete), saves the draft, closes the history.
        Outcomes that arrive after this are ignored (the history they would read is closed)."""
        if self._closing:
            return []
        self._closing = True
        self._draft_timer.stop()
        self.save_draft()
        if self.job is not None:
            self.job.cancel()
        ending = self.chat.finish()
        self.tray.worker.finish()
        files = self.transfer.finish()
        self.history.close()
        return [ending, self.tray.worker, files]
