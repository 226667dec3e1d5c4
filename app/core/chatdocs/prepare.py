"""A file the user attaches to a message: read within bounds, and read through the Documents index's
hostile-file extractors before it is accepted, so a document that cannot be read is refused at once,
with the reason in words, and nothing is attached."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from app.core.chat.documents import MAX_DOCUMENT_BYTES, SUFFIXES, ChatDocument, DocumentError, display_name, human_size
from app.core.docs.extract import HTML_SUFFIXES, MARKDOWN_SUFFIXES, TEXT_SUFFIXES, ZIP_SUFFIXES, extract_bytes
from app.core.docs.guard import read_bytes
from app.core.docs.model import Document, Limits, UnreadableDocument

log = logging.getLogger(__name__)

SUFFIXES_READ = frozenset(TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | set(ZIP_SUFFIXES) | {".pdf"})
LIMITS = Limits(max_file_bytes=MAX_DOCUMENT_BYTES, pdf_seconds=60.0)


def is_document(path: str | Path) -> bool:
    """Whether a file's name says it is a kind of document Hearth reads (its content decides later)."""
    return Path(path).suffix.lower() in SUFFIXES_READ


def read_document(data: bytes, name: str) -> Document:
    """The text of a document's bytes; UnreadableDocument says why not."""
    try:
        return extract_bytes(data, name, LIMITS)
    except UnreadableDocument:
        raise
    except MemoryError:
        raise UnreadableDocument("could not be read (out of memory)") from None
    except Exception:  # noqa: BLE001 - a reader's gap on one hostile file: logged, said in words
        log.warning("chat document %s could not be read", name, exc_info=True)
        raise UnreadableDocument("could not be read (an unexpected error: see the log)") from None


def prepare(source: Path | bytes, name: str = "") -> ChatDocument:
    """A file (or its bytes) as a document ready to attach; DocumentError says plainly what is wrong."""
    label = display_name(name or (source.name if isinstance(source, Path) else "pasted document"))
    try:
        if isinstance(source, bytes | bytearray):
            data = bytes(source)
            if len(data) > MAX_DOCUMENT_BYTES:
                raise UnreadableDocument(f"too large ({human_size(len(data))}, limit {human_size(MAX_DOCUMENT_BYTES)})")
        else:
            data = read_bytes(Path(source), LIMITS)
        doc = read_document(data, label)
    except UnreadableDocument as exc:
        log.info("chat document %s refused: %s", label, exc.reason)
        raise DocumentError(f"{label} cannot be attached: {exc.reason}") from None
    if doc.kind not in SUFFIXES:  # a reader added since: kept out until it has a suffix here
        raise DocumentError(f"{label} cannot be attached: not a document Hearth reads")
    return ChatDocument(hashlib.sha256(data).hexdigest(), label, len(data), doc.kind, data)
