"""A conversation to a file and back, pictures and documents included (a document beside the file as
``document-<sha256 prefix>.<suffix of its kind>``, read back from there as a picture is).

Markdown and JSON exports write each picture beside the file as ``picture-<sha256 prefix>.png`` (the
Markdown shows them, the JSON names them by hash and file name); importing a JSON export reads them
back from beside it, each checked against its hash (history.import_json).

An export is never left half-written: each file goes through a temp file and a rename, the .md/.json
last (so it never names a picture that is not there), and a failure removes the pictures it added.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from app.core.chat.documents import DocumentError, DocumentStore
from app.core.chat.documents import file_name as document_file_name
from app.core.chat.history import MAX_EXPORT_BYTES, ChatHistory, Conversation, HistoryError, picture_file_name
from app.core.chat.pictures import PictureError, PictureStore
from app.core.fileio import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
KINDS = {".md": "md", ".json": "json"}


@dataclass(frozen=True)
class Exported:
    path: Path
    pictures: list[Path]
    title: str
    documents: list[Path] = field(default_factory=list)

    def beside(self) -> str:
        """What was written beside the file, in words ("2 pictures and 1 document"), or ""."""
        counts = [(len(self.pictures), "picture"), (len(self.documents), "document")]
        return " and ".join(f"{n} {what}{'s' if n != 1 else ''}" for n, what in counts if n)


def kind_for(path: Path) -> str:
    """The export format a file name asks for, from its suffix."""
    kind = KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise HistoryError(f"{Path(path).name}: an export ends in .md (Markdown) or .json (JSON)")
    return kind


def export_conversation(history: ChatHistory, conversation_id: int, path: Path, kind: str) -> list[Path]:
    """Writes the .md or .json, its pictures and documents; returns the files written."""
    done = export_file(history, conversation_id, path, kind)
    return [done.path, *done.pictures, *done.documents]


def export_file(history: ChatHistory, conversation_id: int, path: Path, kind: str) -> Exported:
    path = Path(path)
    title = history.conversation(conversation_id).title
    text = (history.export_markdown if kind == "md" else history.export_json)(conversation_id)
    store = PictureStore()
    written: list[Path] = []
    documents_written: list[Path] = []
    added: list[Path] = []  # files this export created: removed again if it fails
    try:
        for sha in sorted(history.picture_shas(conversation_id)):
            data = store.read(sha)  # checked against its hash: a changed file is not exported
            target = path.parent / picture_file_name(sha)
            if not _same(target, data):
                existed = target.exists()
                atomic_write_bytes(target, data)
                if not existed:
                    added.append(target)
            written.append(target)
        documents = DocumentStore()
        for sha, kind in sorted(history.document_files(conversation_id).items()):
            data = documents.read(sha)  # checked against its hash, as a picture is
            target = path.parent / document_file_name(sha, kind)
            if not _same(target, data):
                existed = target.exists()
                atomic_write_bytes(target, data)
                if not existed:
                    added.append(target)
            documents_written.append(target)
        atomic_write_text(path, text)
    except (PictureError, DocumentError, OSError) as exc:
        for target in added:
            target.unlink(missing_ok=True)
        log.warning("export of chat %s to %s failed: %s", conversation_id, path, exc)
        if isinstance(exc, PictureError | DocumentError):
            raise HistoryError(f"could not export: {exc}") from exc
        raise HistoryError(f"could not write {path.name} to {path.parent}: {exc.strerror or type(exc).__name__}") \
            from exc
    log.info("exported chat %s to %s with %d pictures and %d documents", conversation_id, path, len(written),
             len(documents_written))
    return Exported(path, written, title, documents_written)


def _same(target: Path, data: bytes) -> bool:
    try:
        return target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data
    except OSError:
        return False


def import_conversation(history: ChatHistory, path: Path) -> Conversation:
    """Reads a JSON export (hostile: see history.import_json) and its pictures from beside it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_EXPORT_BYTES:
            raise HistoryError(f"{path.name} is too large for a chat export ({size // (1024 * 1024)} MB)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from exc
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{path.name} is not a Hearth chat export (not UTF-8 text)") from exc
    return history.import_json(text, path.parent)
