"""One file to a Document, or UnreadableDocument with the reason in words; many files without stopping."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.docs.guard import SafeZip, read_bytes, too_large
from app.core.docs.model import Builder, Document, Limits, UnreadableDocument
from app.core.jobs import CancelToken

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".log", ".rst", ".org", ".csv", ".tsv"}
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
ZIP_SUFFIXES = {".docx": "docx", ".odt": "odt", ".epub": "epub"}
NOT_READ = "not a document Hearth reads"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old Office container; also what an encrypted DOCX is inside


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def extract(path: Path | str, limits: Limits | None = None) -> Document:
    """The file's text and sections; the kind decided by its content first, its suffix second."""
    path, limits = Path(path), limits or Limits()
    return extract_bytes(read_bytes(path, limits), path, limits)


def extract_bytes(data: bytes, path: Path | str, limits: Limits | None = None) -> Document:
    """As extract, for bytes already read (a chat's stored document); ``path`` names it (its suffix
    tells plain text from Markdown or HTML) and is never opened."""
    path, limits = Path(path), limits or Limits()
    if not data:
        raise UnreadableDocument("empty file")
    if len(data) > limits.max_file_bytes:
        raise UnreadableDocument(too_large(len(data), limits.max_file_bytes))
    notes: list[str] = []
    kind = _kind(path, data)
    try:
        kind, title, builder = _read(kind, data, limits, notes)
    except RecursionError:
        raise UnreadableDocument("truncated or damaged (nested too deeply)") from None
    text, sections = builder.finish()
    if not sections:
        raise UnreadableDocument("no text in it")
    return Document(path, kind, title or path.stem, text, sections, notes)


def _kind(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(OLE):
        if suffix in ZIP_SUFFIXES:
            raise UnreadableDocument("encrypted document (password needed)")
        raise UnreadableDocument(f"{NOT_READ} (an old Office format: save it as .docx or .odt)")
    if suffix == ".pdf" or suffix in ZIP_SUFFIXES:
        raise UnreadableDocument(f"truncated or damaged (not a {suffix[1:].upper()} inside)")
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in HTML_SUFFIXES:
        return "html"
    raise UnreadableDocument(NOT_READ)


def _read(kind: str, data: bytes, limits: Limits, notes: list[str]) -> tuple[str, str, Builder]:
    """(kind, title, builder); a zip's kind is told by what is inside it."""
    from app.core.docs import epub, html, office, pdf, text  # each reader loads when its kind comes

    if kind == "pdf":
        return (kind, *pdf.read_pdf(data, limits, notes))
    if kind == "text":
        return (kind, *text.read_text(data, limits, notes))
    if kind == "markdown":
        return (kind, *text.read_markdown(data, limits, notes))
    if kind == "html":
        builder = Builder(limits)
        return kind, html.add_html(html.decode_html(data, notes), builder), builder
    z = SafeZip(data, limits)
    mimetype = z.read("mimetype").strip() if z.has("mimetype") else b""
    if mimetype == b"application/epub+zip":
        return ("epub", *epub.read_epub(z, limits, notes))
    if mimetype == b"application/vnd.oasis.opendocument.text":
        return ("odt", *office.read_odt(z, limits))
    if z.has("word/document.xml"):
        return ("docx", *office.read_docx(z, limits))
    raise UnreadableDocument(f"{NOT_READ} (a zip of another kind)")


def extract_many(paths: Iterable[Path | str], limits: Limits | None = None,
                 cancel: CancelToken | None = None) -> Iterator[Document | Skipped]:
    """Each file's Document, or Skipped(path, reason): one bad file never stops the rest."""
    for path in paths:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            yield extract(path, limits)
        except UnreadableDocument as exc:
            log.info("document skipped: %s: %s", path, exc.reason)
            yield Skipped(Path(path), exc.reason)
        except MemoryError:
            log.warning("document skipped: %s: out of memory", path)
            yield Skipped(Path(path), "could not be read (out of memory)")
        except Exception:  # noqa: BLE001 - a reader's gap on one hostile file: logged, the rest go on
            log.warning("document skipped: %s", path, exc_info=True)
            yield Skipped(Path(path), "could not be read (an unexpected error: see the log)")
