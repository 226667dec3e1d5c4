"""Opening a search hit's file where the passage is: a PDF at its page, anything else as a file."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def document_url(path: str, page: int | None = None) -> QUrl:
    """The file's URL; a PDF with a known page gets ``#page=N`` (PDF viewers and browsers honour it)."""
    url = QUrl.fromLocalFile(path)
    if page is not None and page > 0 and path.lower().endswith(".pdf"):
        url.setFragment(f"page={page}")
    return url


def open_document(path: str, page: int | None = None) -> bool:
    """Hands the file to the system's viewer; False when none took it."""
    return QDesktopServices.openUrl(document_url(path, page))
