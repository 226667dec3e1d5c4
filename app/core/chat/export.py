"""A conversation to a file and back, pictures included.

Markdown and JSON exports write each picture beside the file as ``picture-<sha256 prefix>.png`` (the
Markdown shows them, the JSON names them by hash and file name); importing a JSON export reads them
back from beside it, each checked against its hash.
"""

from __future__ import annotations

from pathlib import Path

from app.core.chat.history import ChatHistory, Conversation, HistoryError, picture_file_name
from app.core.chat.pictures import PictureError, PictureStore


def export_conversation(history: ChatHistory, conversation_id: int, path: Path, kind: str) -> list[Path]:
    """Writes the .md or .json and its pictures; returns the files written."""
    path = Path(path)
    text = (history.export_markdown if kind == "md" else history.export_json)(conversation_id)
    store = PictureStore()
    written = []
    try:
        for sha in sorted(history.picture_shas(conversation_id)):
            target = path.parent / picture_file_name(sha)
            target.write_bytes(store.read(sha))
            written.append(target)
        path.write_text(text, encoding="utf-8")
    except PictureError as exc:
        raise HistoryError(f"could not export: {exc}") from exc
    except OSError as exc:
        raise HistoryError(f"could not export to {path}: {exc.strerror or exc}") from exc
    return [path, *written]


def import_conversation(history: ChatHistory, path: Path) -> Conversation:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"cannot read {path.name}: {exc}") from exc
    return history.import_json(text, path.parent)
