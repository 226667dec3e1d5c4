"""Chat export and import for the Chat pane, on a worker thread of their own.

Both go through app.core.chat.export (pictures beside the file, atomic writes; an import checked in
full before anything is stored). Each job opens its own ChatHistory on the worker thread (one
connection per thread); the pane's history sees the result through SQLite.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.errors import in_words
from app.gui.workers import Job, SerialWorker


def _export(cancel, progress, db_path: Path, conversation_id: int, path: Path, kind: str):
    from app.core.chat.export import export_file
    from app.core.chat.history import ChatHistory

    history = ChatHistory(db_path)
    try:
        return export_file(history, conversation_id, path, kind)
    finally:
        history.close()


def _import(cancel, progress, db_path: Path, path: Path):
    from app.core.chat.export import import_conversation
    from app.core.chat.history import ChatHistory

    history = ChatHistory(db_path)
    try:
        return import_conversation(history, path)
    finally:
        history.close()


class ChatTransfer(QObject):
    notice = Signal(str)  # what happened, in words, for the pane's notice line
    imported = Signal(int)  # the new conversation's id

    def __init__(self, db_path: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.db_path = db_path
        self.worker = SerialWorker("chat-files", self)

    def export(self, conversation_id: int, path: Path, kind: str) -> Job:
        self.notice.emit(f"Exporting to {path}…")
        return self.worker.submit(_export, self.db_path, conversation_id, path, kind, name="export-chat",
                                  on_result=self._exported, on_error=self._export_failed)

    def import_file(self, path: Path) -> Job:
        self.notice.emit(f"Importing {path.name}…")
        return self.worker.submit(_import, self.db_path, path, name="import-chat",
                                  on_result=self._imported, on_error=lambda exc: self._import_failed(path, exc))

    def _exported(self, done) -> None:
        beside = f", with {done.beside()} beside it" if done.beside() else ""
        self.notice.emit(f"Exported “{done.title}” to {done.path}{beside}.")

    def _export_failed(self, exc) -> None:
        self.notice.emit(f"Export failed: {in_words(exc)}")

    def _imported(self, conv) -> None:
        self.notice.emit(f"Imported “{conv.title}”.")
        self.imported.emit(conv.id)

    def _import_failed(self, path: Path, exc) -> None:
        self.notice.emit(f"Could not import {path.name}: {in_words(exc)}")

    def busy(self) -> bool:
        return self.worker.busy()

    def finish(self) -> SerialWorker:
        """Never blocks: a job not yet started is cancelled; one running completes (atomically either way)."""
        self.worker.finish()
        return self.worker
