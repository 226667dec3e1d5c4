"""The Chat pane's conversations: new, open, rename, delete, export and import, and the actions on
one message (copy, edit, regenerate).

A mixin of ChatPane (it uses the pane's history, sidebar, view, settings panel and transfer).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QMessageBox

from app.gui import theme
from app.gui.chat.message_view import MessageWidget
from app.gui.panes.base import button


class Conversations:
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

    def new_conversation(self) -> None:
        if self.job is not None and not self.job.done:
            return  # the reply in progress belongs to the open chat
        self.conversation_id = None
        self.view.clear()
        self.update_first_run()
        self.settings_panel.load("", {})
        self.load_library(None)
        self.sidebar.list.clearSelection()
        self.input.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if self.job is not None and not self.job.done:
            return  # switching away mid-reply would hide the stream; the list follows after
        self.conversation_id = conversation_id
        conv = self.history.conversation(conversation_id)
        self.settings_panel.load(conv.system_prompt, conv.params)
        self.load_library(conv.params)
        self.view.clear()
        for m in self.history.messages(conversation_id):
            w = self._add_widget(m.id, m.role, m.content, m.attachments, m.documents)
            if m.role == "assistant":
                w.set_stats(m.stats, m.incomplete)
                self.show_parts(w, m)
            if m.damaged:  # shown as it is; the rest of the chat works
                w.set_status(f"Damaged in the history file: {m.damaged}")
        self.update_first_run()

    def _ensure_conversation(self, first_message: str) -> int:
        if self.conversation_id is None:
            title = " ".join(first_message.split())[:48] or "New chat"
            conv = self.history.create(
                title, self.settings_panel.system.toPlainText(), self.picker.current() or "", self.chat_params(),
            )
            self.conversation_id = conv.id
            self.sidebar.refresh(select=conv.id)
        return self.conversation_id

    def _save_conversation_settings(self) -> None:
        if self.conversation_id is not None and not self.history.read_only:
            self.history.update(
                self.conversation_id,
                system_prompt=self.settings_panel.system.toPlainText(), params=self.chat_params(),
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

    # --- message actions ---------------------------------------------------------------
    def _add_widget(self, message_id: int, role: str, text: str, attachments=(), documents=(),
                    thumbs=None) -> MessageWidget:
        w = MessageWidget(message_id, role, text)
        w.add_documents(documents)
        if attachments:
            from app.core.chat.pictures import PictureStore

            store = PictureStore()
            w.add_pictures([(store.path_of(a.sha256), a.name) for a in attachments], thumbs)
            w.picture_opened.connect(lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        w.copy_requested.connect(lambda _id, w=w: QGuiApplication.clipboard().setText(w.text))
        w.edit_requested.connect(lambda _id, w=w: self._edit(w))
        w.regenerate_requested.connect(lambda _id, w=w: self.regenerate(w))
        w.result_opened.connect(self.open_result)
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
