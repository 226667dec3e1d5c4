"""DOCX and ODT read straight from the zip's XML (through SafeZip and defusedxml), so one hostile-zip
path guards both and no XML library with entity expansion is involved; headings from paragraph styles."""

from __future__ import annotations

import re

from app.core.docs.guard import SafeZip, parse_xml
from app.core.docs.model import Builder, Limits, UnreadableDocument

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
DC = "{http://purl.org/dc/elements/1.1/}"
HEADING_NAME = re.compile(r"^heading\s*(\d)$", re.I)


def _heading(stack: list[tuple[int, str]], level: int, text: str) -> tuple[str, ...]:
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, text))
    return tuple(h for _, h in stack)


def read_docx(z: SafeZip, limits: Limits) -> tuple[str, Builder]:
    levels = _docx_heading_styles(z)
    body = parse_xml(z.read("word/document.xml"), "word/document.xml")
    builder, first = Builder(limits), ""
    stack: list[tuple[int, str]] = []
    for para in _docx_paragraphs(body):
        text = "".join(_docx_runs(para))
        if not text.strip():
            continue
        style = para.find(f"{W}pPr/{W}pStyle")
        level = levels.get(style.get(f"{W}val", "")) if style is not None else None
        outline = para.find(f"{W}pPr/{W}outlineLvl")
        if level is None and outline is not None and (outline.get(f"{W}val") or "").isdigit():
            level = int(outline.get(f"{W}val")) + 1
        if level and level <= 9:
            path = _heading(stack, level, " ".join(text.split()))
            first = first or path[-1]
        else:
            path = tuple(h for _, h in stack)
        builder.add(text, None, path)
    return _core_title(z, "docProps/core.xml") or first, builder


def _docx_paragraphs(node):
    """Body paragraphs, tables' included, in order; text boxes left out (Word stores each twice)."""
    for child in node:
        if child.tag == f"{W}p":
            yield child
        elif child.tag != f"{W}txbxContent":
            yield from _docx_paragraphs(child)


def _docx_runs(node):
    for child in node:
        if child.tag == f"{W}t" and child.text:
            yield child.text
        elif child.tag == f"{W}tab":
            yield "\t"
        elif child.tag in (f"{W}br", f"{W}cr"):
            yield "\n"
        elif child.tag not in (f"{W}txbxContent", f"{W}pPr"):
            yield from _docx_runs(child)


def _docx_heading_styles(z: SafeZip) -> dict[str, int]:
    """styleId -> heading level, by the style's name ("heading 2") or its outline level."""
    if not z.has("word/styles.xml"):
        return {}
    levels = {}
    for style in parse_xml(z.read("word/styles.xml"), "word/styles.xml").iter(f"{W}style"):
        sid = style.get(f"{W}styleId", "")
        name = style.find(f"{W}name")
        match = HEADING_NAME.match(name.get(f"{W}val", "") if name is not None else "")
        outline = style.find(f"{W}pPr/{W}outlineLvl")
        if match:
            levels[sid] = int(match.group(1))
        elif name is not None and name.get(f"{W}val", "").lower() == "title":
            levels[sid] = 1
        elif outline is not None and (outline.get(f"{W}val") or "").isdigit() and int(outline.get(f"{W}val")) < 9:
            levels[sid] = int(outline.get(f"{W}val")) + 1
    return levels


def _core_title(z: SafeZip, name: str) -> str:
    if not z.has(name):
        return ""
    found = parse_xml(z.read(name), name).find(f".//{DC}title")
    return " ".join((found.text or "").split()) if found is not None else ""


def read_odt(z: SafeZip, limits: Limits) -> tuple[str, Builder]:
    if z.has("META-INF/manifest.xml") and b"encryption-data" in z.read("META-INF/manifest.xml"):
        raise UnreadableDocument("encrypted document (password needed)")
    root = parse_xml(z.read("content.xml"), "content.xml")
    body = root.find(f"{OFFICE}body")
    if body is None:
        raise UnreadableDocument("truncated or damaged (content.xml has no body)")
    builder, first = Builder(limits), ""
    stack: list[tuple[int, str]] = []

    def walk(node) -> None:
        nonlocal first
        for child in node:
            if child.tag == f"{TEXT}h":
                text = "".join(_odt_text(child))
                level = child.get(f"{TEXT}outline-level") or "1"
                path = _heading(stack, int(level) if level.isdigit() else 1, " ".join(text.split()))
                first = first or path[-1]
                builder.add(text, None, path)
            elif child.tag == f"{TEXT}p":
                builder.add("".join(_odt_text(child)), None, tuple(h for _, h in stack))
            else:
                walk(child)  # lists, tables, sections and frames hold paragraphs

    walk(body)
    return _core_title(z, "meta.xml") or first, builder


def _odt_text(node):
    """A paragraph's text: spans, <text:s c=N/> spaces, tabs and line breaks; notes' bodies left out."""
    if node.text:
        yield node.text
    for child in node:
        if child.tag == f"{TEXT}s":
            count = child.get(f"{TEXT}c") or "1"
            yield " " * min(int(count) if count.isdigit() else 1, 100)
        elif child.tag == f"{TEXT}tab":
            yield "\t"
        elif child.tag == f"{TEXT}line-break":
            yield "\n"
        elif child.tag != f"{TEXT}note":
            yield from _odt_text(child)
        if child.tail:
            yield child.tail
