"""Plain text and Markdown: bytes decoded with a stated fallback; Markdown's headings give the paths."""

from __future__ import annotations

import codecs
import re

from app.core.docs.model import Builder, Limits, UnreadableDocument

ATX = re.compile(r"^#{1,6}\s")


def decode(data: bytes, notes: list[str]) -> str:
    """UTF-8 (or UTF-16 with its BOM); otherwise Windows-1252, which reads any byte, and the note says so."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableDocument("truncated or damaged (not valid UTF-16 text)") from None
    if b"\0" in data[:8192]:
        raise UnreadableDocument("not a document Hearth reads (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    notes.append("not UTF-8: read as Windows-1252 (Western European)")
    return data.decode("cp1252", errors="replace")  # five bytes cp1252 leaves undefined become U+FFFD


def read_text(data: bytes, limits: Limits, notes: list[str]) -> tuple[str, Builder]:
    text = decode(data, notes)
    if not text.strip():
        raise UnreadableDocument("empty file")
    builder = Builder(limits)
    builder.add(text)
    return "", builder


def read_markdown(data: bytes, limits: Limits, notes: list[str]) -> tuple[str, Builder]:
    """Headings, paragraphs, list items, code and table rows from markdown-it's tokens, as plain text."""
    from markdown_it import MarkdownIt  # already a dependency (the chat's view); not on the start-up path

    text = decode(data, notes)
    if not text.strip():
        raise UnreadableDocument("empty file")
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    builder = Builder(limits)
    stack: list[tuple[int, str]] = []
    title, level, in_row = "", 0, False
    row: list[str] = []
    for token in md.parse(text):
        path = tuple(h for _, h in stack)
        if token.type == "heading_open":
            level = int(token.tag[1:])
        elif token.type == "inline" and level:
            heading = _plain(token.children or [])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            title = title or (heading if level == 1 else "")
            builder.add(heading, None, tuple(h for _, h in stack))
            level = 0
        elif token.type == "tr_open":
            in_row, row = True, []
        elif token.type == "inline" and in_row:
            row.append(_plain(token.children or []))
        elif token.type == "tr_close":
            builder.add(" | ".join(row), None, path)
            in_row = False
        elif token.type == "inline":
            builder.add(_plain(token.children or []), None, path)
        elif token.type in ("fence", "code_block", "html_block"):
            builder.add(token.content, None, path)
    return title, builder


def _plain(children) -> str:
    out = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(_plain(child.children or []))
    return "".join(out)
