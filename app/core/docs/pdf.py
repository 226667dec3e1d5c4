"""PDF text layers through pypdf (pure Python, BSD, well kept; its own limits refuse stream bombs).

Each page is its own section; the outline (bookmarks), where there is one, gives the heading path."""

from __future__ import annotations

import io
import logging
import time

from app.core.docs.model import Builder, Limits, UnreadableDocument

log = logging.getLogger(__name__)


def read_pdf(data: bytes, limits: Limits, notes: list[str]) -> tuple[str, Builder]:
    from pypdf import PasswordType, PdfReader  # not on the start-up path
    from pypdf.errors import DependencyError, PyPdfError

    if b"%%EOF" not in data[-2048:]:
        # a download or copy cut short: the pages past the cut (and often the page index) are gone
        raise UnreadableDocument("truncated or damaged (the PDF ends early: no end-of-file marker)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # a PDF locked only against editing opens with no password
            except (DependencyError, NotImplementedError, PyPdfError):
                opened = PasswordType.NOT_DECRYPTED
            if opened == PasswordType.NOT_DECRYPTED:
                raise UnreadableDocument("encrypted PDF (password needed)")
        count = len(reader.pages)
        if count == 0:
            raise UnreadableDocument("truncated or damaged (no pages)")
        headings = _outline(reader)
        builder, deadline, read = Builder(limits), time.monotonic() + limits.pdf_seconds, 0
        for number in range(min(count, limits.max_pdf_pages)):
            if time.monotonic() > deadline:
                notes.append(f"only the first {number} of {count} pages read (time limit)")
                break
            text = reader.pages[number].extract_text() or ""
            read += bool(text.strip())
            builder.add(text, number + 1, _heading_at(headings, number))
        else:
            if count > limits.max_pdf_pages:
                notes.append(f"only the first {limits.max_pdf_pages} of {count} pages read")
        title = _title(reader) or (headings[0][1][-1] if headings else "")
    except UnreadableDocument:
        raise
    except Exception:  # noqa: BLE001 - a hostile PDF can make pypdf raise nearly anything (zlib, struct, ...)
        log.warning("PDF not read", exc_info=True)
        raise UnreadableDocument("truncated or damaged (the PDF could not be parsed)") from None
    if not read:
        raise UnreadableDocument("scanned PDF: no text layer")
    return title, builder


def _title(reader) -> str:
    meta = reader.metadata
    return str(meta.title).strip() if meta and meta.title else ""


def _outline(reader) -> list[tuple[int, tuple[str, ...]]]:
    """(0-based page, heading path) for each bookmark, by page; [] when the outline is missing or broken."""
    found: list[tuple[int, tuple[str, ...]]] = []

    def walk(items, path: tuple[str, ...]) -> None:
        last = None
        for item in items:
            if isinstance(item, list):
                if last is not None:
                    walk(item, path + (last,))
                continue
            last = " ".join(str(item.title or "").split())
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0:
                found.append((page, path + (last,)))
            if len(found) > 10_000:
                return

    try:
        walk(reader.outline, ())
    except Exception:  # noqa: BLE001 - a broken outline costs the headings, never the text
        log.info("PDF outline not read", exc_info=True)
        return []
    return sorted(found, key=lambda entry: entry[0])


def _heading_at(headings: list[tuple[int, tuple[str, ...]]], page: int) -> tuple[str, ...]:
    path: tuple[str, ...] = ()
    for start, heading in headings:
        if start > page:
            break
        path = heading
    return path
