"""Sections to chunks for the index: structure first (a chunk never crosses a page or heading), then
paragraphs grouped to a token budget, long ones split at sentences, then words; overlap within a section."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.core.docs.model import Document

PARAGRAPH_BREAK = "\n\n"  # Builder's separator: never inside a paragraph
SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """text == document.text[start:end]; page and heading_path are its section's."""

    text: str
    page: int | None
    heading_path: tuple[str, ...]
    start: int
    end: int
    index: int


def _bare_heading(section, following) -> bool:
    """A heading with nothing under it before its first sub-heading: a passage of its own would be found
    for its words alone and say nothing; the sub-sections carry it in their heading paths."""
    path = section.heading_path
    return (bool(path) and following is not None and section.text.strip() == path[-1]
            and following.heading_path[:len(path)] == path and len(following.heading_path) > len(path))


def estimate_tokens(text: str) -> int:
    """A cheap stand-in for a tokenizer: about 4/3 tokens a word, or 1 per 4 characters, whichever is more."""
    return max(math.ceil(len(text.split()) * 4 / 3), math.ceil(len(text) / 4))


def chunk(document: Document, budget_tokens: int = 256, overlap_tokens: int = 32,
          count: Callable[[str], int] = estimate_tokens) -> list[Chunk]:
    if budget_tokens < 8:
        raise ValueError("budget_tokens must be at least 8")
    overlap = max(0, min(overlap_tokens, budget_tokens // 4))
    full = document.text
    out: list[Chunk] = []
    sections = document.sections
    for i, section in enumerate(sections):
        if _bare_heading(section, sections[i + 1] if i + 1 < len(sections) else None):
            continue
        pieces = [p for a, b in _paragraphs(full, section.start, section.end)
                  for p in _fit(full, a, b, budget_tokens - overlap, count)]
        spans: list[tuple[int, int]] = []
        start, end = pieces[0]
        for a, b in pieces[1:]:
            if count(full[start:b]) <= budget_tokens:
                end = b
                continue
            spans.append((start, end))
            previous_end = end
            start, end = (_overlap_start(full, start, end, overlap, count) if overlap else a), b
            if start >= previous_end:  # no whole word fit in the overlap
                start = a
            if count(full[start:end]) > budget_tokens:  # the overlap pushed it over: drop the overlap
                start = a
        spans.append((start, end))
        out += [Chunk(full[a:b], section.page, section.heading_path, a, b, len(out) + i) for i, (a, b) in
                enumerate(spans)]
    return out


def _paragraphs(full: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, at = [], start
    while at < end:
        stop = full.find(PARAGRAPH_BREAK, at, end)
        stop = end if stop < 0 else stop
        spans.append((at, stop))
        at = stop + len(PARAGRAPH_BREAK)
    return spans


def _fit(full: str, start: int, end: int, budget: int, count) -> list[tuple[int, int]]:
    """A paragraph as spans of at most ``budget`` tokens: whole, else by sentences, else words, else characters."""
    if count(full[start:end]) <= budget:
        return [(start, end)]
    for splitter in (SENTENCE_END, WORD):
        groups = _group(full, _split(full, start, end, splitter), budget, count)
        if len(groups) > 1:
            return [s for a, b in groups for s in _fit(full, a, b, budget, count)]
    middle = start + max(1, (end - start) // 2)  # one unbroken run: halve it
    return _fit(full, start, middle, budget, count) + _fit(full, middle, end, budget, count)


def _split(full: str, start: int, end: int, splitter: re.Pattern) -> list[tuple[int, int]]:
    """Spans between the splitter's matches (sentence ends), or of its matches (words)."""
    if splitter is WORD:
        return [(m.start(), m.end()) for m in WORD.finditer(full, start, end)]
    spans, at = [], start
    for m in splitter.finditer(full, start, end):
        spans.append((at, m.start()))
        at = m.end()
    if at < end:
        spans.append((at, end))
    return [(a, b) for a, b in spans if b > a]


def _group(full: str, parts: list[tuple[int, int]], budget: int, count) -> list[tuple[int, int]]:
    if not parts:
        return []
    groups, (start, end) = [], parts[0]
    for a, b in parts[1:]:
        if count(full[start:b]) <= budget:
            end = b
        else:
            groups.append((start, end))
            start, end = a, b
    groups.append((start, end))
    return groups


def _overlap_start(full: str, start: int, end: int, overlap: int, count) -> int:
    """Where the last ``overlap`` tokens of full[start:end] begin, at a word's start (``end`` if none fit)."""
    best = end
    words = [m.start() for m in WORD.finditer(full, start, end)]
    for at in reversed(words):
        if count(full[at:end]) > overlap:
            break
        best = at
    return best
