"""An "Ask Hearth" reply's steps and citations as the chat history keeps them (#26).

A step is the tool the model called, its arguments, what came back (each result a find hit's JSON:
kind, title, path, text, and its place: page, start, line…), an error in words, and a one-line
summary. The history stores each step as JSON when it finishes; reading it back is hostile input:
a value that is not such an object becomes a step marked damaged, and the rest of the message works.
Plain Python, no import of the ask loop: the loop's ``Step.to_json()`` is what gets stored.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
from dataclasses import dataclass, field

from app.core.fileio import loads_json

MAX_STEPS = 64  # per message; the loop's step limit is far under this
MAX_RESULTS = 200  # per step
MAX_STEP_CHARS = 1_000_000  # one step's stored JSON
MAX_TEXT = 20_000  # any one text field of a result, after reading
PLACE_KEYS = ("number", "step", "page", "heading", "char_start", "char_end", "start", "end", "transcript_id",
              "conversation_id", "message_id", "line", "score")


@dataclass(frozen=True)
class StoredStep:
    tool: str
    arguments: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    error: str | None = None  # what went wrong, in words (None: the tool ran), as the loop's Step says
    summary: str = ""
    damaged: str = ""  # what was wrong with the stored value ("" when nothing)

    def to_json(self) -> dict:
        out = {"tool": self.tool, "arguments": self.arguments, "results": self.results, "error": self.error,
               "summary": self.summary}
        if self.damaged:
            out["damaged"] = self.damaged
        return out


def _finite(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) < 2**63 if isinstance(value, int) else math.isfinite(value)


def clean_result(raw) -> dict | None:
    """A result as the pane and the exports may use it: text fields as text, places as numbers; None
    when it is not an object."""
    if not isinstance(raw, dict):
        return None
    out: dict = {}
    for key in ("kind", "title", "path", "text", "path_base64"):
        value = raw.get(key)
        if isinstance(value, str):
            out[key] = value[:MAX_TEXT]
        elif value is None and key == "path" and key in raw:  # a transcript or a chat: no file
            out[key] = None
    for key in ("taken", "taken_source", "place"):  # a photo's when and where (null: it does not say)
        value = raw.get(key)
        if isinstance(value, str):
            out[key] = value[:MAX_TEXT]
        elif value is None and key in raw:
            out[key] = None
    for key in PLACE_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and key in ("heading", "transcript_id"):
            out[key] = value[:MAX_TEXT]
        elif _finite(value):
            out[key] = value
    return out


def clean_step(raw) -> StoredStep:
    """A step from anything (a stored row, an export): what is not what a step holds is said, not raised."""
    if not isinstance(raw, dict) or not isinstance(raw.get("tool"), str) or not raw["tool"]:
        return StoredStep("", damaged="this step could not be read")
    damage = []
    arguments = raw.get("arguments")
    if not isinstance(arguments, dict):
        damage.append("its arguments could not be read")
        arguments = {}
    results_raw = raw.get("results", [])
    if not isinstance(results_raw, list):
        damage.append("its results could not be read")
        results_raw = []
    results = [r for r in (clean_result(x) for x in results_raw[:MAX_RESULTS]) if r is not None]
    if len(results) < min(len(results_raw), MAX_RESULTS):
        damage.append("some results could not be read")
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        error = "a tool error that could not be read"
    summary = raw.get("summary")
    return StoredStep(raw["tool"][:200], arguments, results, error[:MAX_TEXT] if isinstance(error, str) else None,
                      summary[:MAX_TEXT] if isinstance(summary, str) else "", "; ".join(damage))


def file_path(result: dict) -> str | None:
    """The file a result names, exactly: a name that is not UTF-8 is stored readable in "path" with its
    bytes in "path_base64" (app.core.ask.tools.utf8)."""
    raw = result.get("path_base64")
    if isinstance(raw, str):
        try:
            return os.fsdecode(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            pass
    path = result.get("path")
    return path if isinstance(path, str) else None


def read_step(value) -> StoredStep:
    """A stored step's JSON, read as hostile input."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str) or len(value) > MAX_STEP_CHARS:
        return StoredStep("", damaged="this step could not be read")
    try:
        data = loads_json(value)
    except ValueError:
        return StoredStep("", damaged="this step could not be read")
    return clean_step(data)


def read_citations(value) -> tuple[list[dict], str]:
    """A message's stored citations (the loop's ``Citation.to_json()``: number, step, and the result's
fields) and damage in words."""
    if value in (None, "", b""):
        return [], ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        data = loads_json(value) if isinstance(value, str) and len(value) <= MAX_STEP_CHARS else None
    except ValueError:
        data = None
    if not isinstance(data, list):
        return [], "its citations could not be read"
    cited = [r for r in (clean_result(x) for x in data[:MAX_RESULTS]) if r is not None]
    return cited, "" if len(cited) == min(len(data), MAX_RESULTS) else "some citations could not be read"


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def markdown(steps: list[StoredStep], citations: list[dict]) -> list[str]:
    """A message's steps and citations as Markdown lines (the export)."""
    lines = []
    for s in steps:
        if s.damaged and not s.tool:
            lines.append("- *A step that could not be read*")
            continue
        head = s.summary or f"{s.tool}({', '.join(f'{k}={v!r}' for k, v in s.arguments.items())})"
        lines.append(f"- **{_plain(head)}**" + (f" (failed: {_plain(s.error)})" if s.error else ""))
        for r in s.results:
            lines.append(f"  - {_plain(where(r))}")
    if citations:
        lines += ["", "Sources:"] + [f"{number_of(r, n)}. {_plain(where(r))}" for n, r in enumerate(citations, 1)]
    return lines


def where(result: dict) -> str:
    """A result in words: its title or file, and its place ("manual.pdf, page 4"; "memo, 1:05")."""
    name = result.get("title") or result.get("path") or "a result"
    place = []
    if isinstance(result.get("page"), int):
        place.append(f"page {result['page']}")
    if _finite(result.get("start")):
        place.append(clock(result["start"]))
    if isinstance(result.get("line"), int):
        place.append(f"line {result['line']}")
    return ", ".join([str(name), *place])


def number_of(citation: dict, fallback: int) -> int:
    """A citation's [n] as the answer writes it (its position from 1 where the stored number is not one)."""
    n = citation.get("number")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else fallback


def clock(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _plain(text: str) -> str:
    return " ".join(str(text).split())
