"""The export dialog: starts in Documents, with a clean file name and the format's own filter; and the
import dialog, for a file an export wrote."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

FILTERS = {
    "md": "Markdown (*.md)",
    "json": "JSON (*.json)",
    "txt": "Plain text (*.txt)",
    "srt": "SubRip subtitles (*.srt)",
    "vtt": "WebVTT subtitles (*.vtt)",
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def clean_name(title: str, fallback: str = "export", limit: int = 80) -> str:
    """A file name any system accepts: no separators or reserved characters, no dots or spaces at the ends."""
    name = unicodedata.normalize("NFC", title)
    name = _UNSAFE.sub(" ", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > limit:  # cut at a word's end, not through one ("What is the capi")
        cut = name[:limit]
        name = cut[:cut.rfind(" ")] if name[limit] != " " and " " in cut else cut
    return name.strip(" .") or fallback


def documents_dir() -> Path:
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    path = Path(found) if found else Path.home()
    return path if path.is_dir() else Path.home()


def ask_export_path(parent, caption: str, title: str, fmt: str, fallback: str = "export") -> Path | None:
    start = documents_dir() / f"{clean_name(title, fallback)}.{fmt}"
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(start), FILTERS.get(fmt, f"*.{fmt}"))
    if not path:
        return None
    result = Path(path)
    return result if result.suffix.lower() == f".{fmt}" else result.with_name(result.name + f".{fmt}")


def ask_import_path(parent, caption: str, fmt: str) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, caption, str(documents_dir()), FILTERS.get(fmt, f"*.{fmt}"))
    return Path(path) if path else None
