"""What extraction gives back: a document's text, its sections with their places, and the limits it ran under."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


class UnreadableDocument(Exception):  # noqa: N818 - an outcome shown to the user, in words
    """A file that is listed with its reason and skipped: encrypted, empty, too large, damaged, not a document."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 100 << 20
    max_chars: int = 20_000_000  # extracted text; a thousand books' worth
    max_pdf_pages: int = 5_000
    pdf_seconds: float = 120.0  # the whole PDF; checked between pages
    max_zip_members: int = 10_000
    max_unzipped_bytes: int = 256 << 20  # all members together, as the zip declares them
    max_member_bytes: int = 64 << 20  # one member read (document.xml, a chapter)
    max_zip_ratio: int = 200  # uncompressed : compressed, for members past 1 MB


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path on one page; text == Document.text[start:end]."""

    text: str
    page: int | None
    heading_path: tuple[str, ...]
    start: int
    end: int


@dataclass
class Document:
    path: Path
    kind: str  # "text", "markdown", "html", "pdf", "docx", "odt", "epub"
    title: str
    text: str
    sections: list[Section]
    notes: list[str] = field(default_factory=list)  # said to the user: "not UTF-8: read as Windows-1252"


class Builder:
    """Collects blocks (paragraphs, headings) into the full text and its sections.

    A block is split at blank lines into paragraphs, so "\\n\\n" inside a section always separates two
    paragraphs (the chunker relies on it); a new page or heading path starts a new section."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.parts: list[str] = []
        self.size = 0
        self._spans: list[tuple] = []
        self._key: tuple | None = None
        self._start = 0

    def add(self, text: str, page: int | None = None, heading_path: tuple[str, ...] = ()) -> None:
        paragraphs = [p.strip() for p in _blank_lines(text.replace("\r\n", "\n").replace("\r", "\n"))]
        paragraphs = [p for p in paragraphs if p]
        if not paragraphs:
            return
        key = (page, heading_path)
        if key != self._key:
            self._close()
            self._key = key
            if self.parts:
                self._put("\n\n")
            self._start = self.size
        else:
            self._put("\n\n")
        self._put("\n\n".join(paragraphs))

    def _put(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > self.limits.max_chars:
            raise UnreadableDocument(f"too much text (over {self.limits.max_chars // 1_000_000} million characters)")
        self.parts.append(piece)

    def _close(self) -> None:
        if self._key is not None and self.size > self._start:
            page, path = self._key
            self._spans.append((page, path, self._start, self.size))

    def finish(self) -> tuple[str, list[Section]]:
        self._close()
        self._key = None
        full = "".join(self.parts)
        return full, [Section(full[a:b], page, path, a, b) for page, path, a, b in self._spans]


def _blank_lines(text: str) -> list[str]:
    return BLANK_LINE.split(text)
