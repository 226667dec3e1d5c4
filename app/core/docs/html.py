"""HTML (and an EPUB's XHTML chapters) to text blocks: headings kept as paths, script and style skipped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.core.docs.model import Builder
from app.core.docs.text import decode

SKIP = {"script", "style", "noscript", "template", "svg", "math", "head", "iframe", "object"}
BLOCK = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "br", "hr", "tr", "table", "pre", "blockquote", "section",
         "article", "header", "footer", "nav", "aside", "main", "figure", "figcaption", "caption", "address",
         "form", "fieldset", "details", "summary", "body", "html", "h1", "h2", "h3", "h4", "h5", "h6"}
CELL = {"td", "th"}
VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr"}
SPACES = re.compile(r"[ \t\r\n\f\v]+")
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.-]+)""")


class _Blocks(HTMLParser):
    def __init__(self, builder: Builder):
        super().__init__(convert_charrefs=True)
        self.builder = builder
        self.stack: list[tuple[int, str]] = []  # (level, heading) of the headings above
        self.skip = 0  # depth inside script/style/head
        self.in_title = False
        self.title = ""
        self.heading: int = 0  # the level of the heading being read
        self.pre = 0
        self.text: list[str] = []
        self.first_heading = ""

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
        if tag in SKIP and tag not in VOID:
            self.skip += 1
        if self.skip:
            return
        if tag in BLOCK:
            self._flush()
        if tag in CELL:
            self.text.append(" | ")
        if tag == "pre":
            self.pre += 1
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.heading = int(tag[1])
        if tag == "img":
            self.text.append(dict(attrs).get("alt") or "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in SKIP and tag not in VOID:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in BLOCK:
            self._flush()

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        if not self.skip:
            self.text.append(data)

    def _flush(self) -> None:
        raw = "".join(self.text)
        self.text = []
        text = raw.strip("\n") if self.pre else SPACES.sub(" ", raw).strip(" |")
        if not text.strip():
            self.heading = 0
            return
        if self.heading:
            while self.stack and self.stack[-1][0] >= self.heading:
                self.stack.pop()
            self.stack.append((self.heading, text))
            self.first_heading = self.first_heading or text
            self.heading = 0
        self.builder.add(text, None, tuple(h for _, h in self.stack))


def add_html(html: str, builder: Builder) -> str:
    """Adds the page's blocks to ``builder``; gives back its <title>, or its first heading."""
    parser = _Blocks(builder)
    parser.feed(html)
    parser.close()
    parser._flush()
    return SPACES.sub(" ", parser.title).strip() or parser.first_heading


def decode_html(data: bytes, notes: list[str]) -> str:
    """By BOM, the XML declaration or a <meta charset> near the top; then UTF-8, then Windows-1252."""
    found = XML_ENCODING.search(data[:200]) or META_CHARSET.search(data[:4096])
    if found and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        name = found.group(1).decode("ascii", "replace")
        try:
            return data.decode(name, errors="replace")
        except LookupError:
            notes.append(f"unknown character set {name!r}: guessed")
    return decode(data, notes)
