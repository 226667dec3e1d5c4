"""A search hit's snippet: a window of the passage around the first query word, cut into runs that
say which are the query's words, so a front end can emphasise them (HTML, a terminal) its own way."""

from __future__ import annotations

import re

from app.core.docs.fusion import WORD

# Words too common to be worth emphasising: every passage has them.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "had", "has", "have",
    "how", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "should", "so",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})


def query_words(query: str) -> list[str]:
    """The query's words worth emphasising, lower-cased, once each, longest first (so a longer word wins)."""
    seen = {w.lower() for w in WORD.findall(query) if w.lower() not in STOP_WORDS and len(w) > 1}
    return sorted(seen, key=lambda w: (-len(w), w))


def snippet(text: str, query: str, width: int = 260, heading: str = "") -> list[tuple[str, bool]]:
    """``text`` with its whitespace folded, cut to about ``width`` characters around the first query word,
    as (run, is a query word) pairs; "…" marks a cut. A word matches at its start ("tyre" in "tyres").
    A passage that opens with its own heading (``heading``: its path, "A > B") loses that line: the
    heading is shown beside the file name already."""
    flat = " ".join(text.split())
    title = " ".join(heading.split(" > ")[-1].split()) if heading else ""
    if title and flat.startswith(title + " "):
        flat = flat[len(title) + 1:]
    words = query_words(query)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE) if words else None
    first = pattern.search(flat) if pattern else None
    start = 0
    if first is not None and first.start() > width // 3:
        start = flat.rfind(" ", 0, first.start() - width // 4) + 1
    end = len(flat) if len(flat) - start <= width else max(flat.rfind(" ", start, start + width), start + width // 2)
    window = flat[start:end]
    runs: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    at = 0
    for m in pattern.finditer(window) if pattern else ():
        if m.start() > at:
            runs.append((window[at:m.start()], False))
        runs.append((m.group(0), True))
        at = m.end()
    if at < len(window):
        runs.append((window[at:], False))
    if end < len(flat):
        runs.append(("…", False))
    return runs
