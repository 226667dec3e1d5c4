"""The Chat pane: conversations, streaming replies, and the controls around them."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from app.core.chat.history import ChatHistory
from app.core.jobs import HearthError
from app.gui import theme
from app.gui.chat.asking import Asking
from app.gui.chat.attachments import AttachmentTray
from app.gui.chat.composer import Composer, draft_file  # noqa: F401 - draft_file: where tests find it
from app.gui.chat.conversations import Conversations
from app.gui.chat.first_run import FirstRunCard
from app.gui.chat.message_view import ConversationView, MessageWidget
from app.gui.chat.picture_input import PictureInput
from app.gui.chat.settings_panel import ChatSettingsPanel
from app.gui.chat.sidebar import ConversationList
from app.gui.chat.transfer import ChatTransfer
from app.gui.chat.warm import warm_up
from app.gui.chat.worker import ChatWorker
from app.gui.errors import in_words
from app.gui.panes.base import ModelBackedPane

log = logging.getLogger(__name__)
class ChatPane(Asking, Conversations, Composer, FirstRunCard, PictureInput, ModelBackedPane):
    kind, title = "chat", "Chat"
    blurb = "Talk with a language model that runs on this computer. Nothing you type leaves it."

    reply_finished = Signal(object)  # TurnResult, or the exception
    download_requested = Signal(str)  # a catalog model id the user asked for from the first-run line

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        self.setAcceptDrops(True)  # pictures dropped on the conversation (PictureInput)
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
        self.refresh_library()
        # On the pictures worker: idle until a picture comes, and the panes are built by now.
        self.tray.worker.submit(warm_up, theme.current_colors(), name="warm-up")
        self.view.warm_up()  # the GUI thread's part: the panes are built after the first paint

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
        col.addWidget(self._build_library())
        col.addLayout(self._build_input_row())
        col.addLayout(self._build_exports())
        return centre

    def set_hardware(self, hardware) -> None:
        self.hardware = hardware
        self.update_first_run()

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
        self.tray.document_removed.connect(self._forget_unsent_document)
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
        self.picker.refreshed.connect(self.update_vision)
        self.picker.refreshed.connect(self.update_first_run)
        if self.history.notice:
            self.notice.setText(self.history.notice)
        newest = self.history.conversations_page(1)  # not the whole history: it may hold 50,000 chats
        self.sidebar.refresh(select=newest[0].id if newest else None)
        if newest:
            self.open_conversation(newest[0].id)

    def _clear_notice(self, prefix: str) -> None:
        if self.notice.text().startswith(prefix):
            self.notice.clear()

    # --- model -------------------------------------------------------------------------
    def ensure_model(self) -> bool:
        model_id = self.picker.current()
        fmt = self.settings_panel.chat_format()
        if model_id and model_id == self.loaded_model and fmt == self.loaded_format:
            return True  # each Send: the picker's refresh keeps `sees` current without reading the store here
        self.update_vision()  # the store may have changed under the picker (an import, a download)
        if not model_id:
            self.notice.setText("No chat model installed: open Models to add one.")
            return False
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
        pictures, documents = self.tray.pictures, self.tray.documents
        if self.job is not None and not self.job.done:
            return
        if self.tray.pending:
            self.notice.setText("An attachment is still being prepared; send again in a moment.")
            return
        if not text and not pictures and not documents:
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

            first = text or (f"Picture: {pictures[0].name}" if pictures else f"Document: {documents[0].name}")
            cid = self._ensure_conversation(first)
            try:
                msg = add_user_message(self.history, cid, text, pictures, documents)
            except HearthError as exc:  # a history that cannot hold pictures or documents: nothing was sent
                self.notice.setText(str(exc))
                return
            self._add_widget(msg.id, "user", text, msg.attachments, msg.documents, self.tray.thumbnails())
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
        if self.asks():
            return self._start_ask()  # "Use my library": the ask loop, steps and citations (asking.py)
        self.job = self.chat.generate(
            self.conversation_id,
            self.settings_panel.params(),
            on_gpu=self.settings.chat_gpu_layers > 0 or bool(self.hardware is not None and self.hardware.gpus),
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
        if result.stats.dropped_messages:
            self.notice.setText(
                f"{result.stats.dropped_messages} older message(s) no longer fit the model's context and were "
                "left out of the prompt. They are still saved here."
            )
        self._finish_ui(result)

    def _on_failed(self, exc) -> None:
        if self._closing:
            return
        if self.streaming is not None:
            self.streaming.set_status("failed")
        self.notice.setText(f"The reply failed: {in_words(exc)}")
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
                self.show_parts(widget, saved[-1])  # the steps so far of a stopped "Use my library" reply
        self.streaming = None
        self.sidebar.refresh()
        self.reply_finished.emit(outcome)

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
