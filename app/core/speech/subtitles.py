"""Transcript exports: TXT, SRT, VTT and JSON, and SRT/VTT readers for checking them.

A segment with a speaker is said so: "Name: text" in TXT and SRT, a ``<v Name>`` voice tag in VTT,
``speaker`` (the name shown) and ``speaker_label`` in JSON. The name is the user's (``names``: label ->
name, a transcript's speaker_names), else "Speaker 1". The text is the corrected text where the user
edited it; JSON keeps the transcribed text too (``original_text``)."""

from __future__ import annotations

import json
import re

FORMATS = ("txt", "srt", "vtt", "json")


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


class Stream:
    """One export written as segments arrive: ``head()``, then ``add(segment)`` for each, then
    ``tail()``; the pieces joined are what ``render`` returns for the whole list."""

    def __init__(self, fmt: str, names: dict[str, str] | None = None, **meta):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        self.fmt, self.meta, self.names = fmt, meta, names or {}
        self.count, self.last_end = 0, 0.0

    def speaker(self, s) -> str | None:
        label = getattr(s, "speaker", None)
        return None if label is None else self.names.get(label) or f"Speaker {label}"

    def json_item(self, s) -> dict:
        if not hasattr(s, "words"):
            return dict(s)
        item = {"start": s.start, "end": s.end, "text": s.text, "speaker": self.speaker(s),
                "speaker_label": s.speaker,
                "words": [{"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
                          for w in s.words]}
        if getattr(s, "original_text", None) is not None:
            item["original_text"] = s.original_text
        return item

    def cue(self, s) -> tuple[float, float, str] | None:
        start = max(s.start, self.last_end)
        end = max(s.end, start + 0.01)
        self.last_end = end
        text = s.text.strip()
        return (start, end, text) if text else None

    def head(self) -> str:
        if self.fmt == "vtt":
            return "WEBVTT\n"
        if self.fmt == "json":
            if not self.meta:
                return "{\n"
            return json.dumps(self.meta, indent=2, ensure_ascii=False)[:-2] + ",\n"  # without its "\n}"
        return ""

    def add(self, s) -> str:
        if self.fmt == "json":
            item = self.json_item(s)
            body = json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n    ")
            first = self.count == 0
            self.count += 1
            return ('  "segments": [\n' if first else ",\n") + "    " + body
        cue = self.cue(s)
        if cue is None:
            return ""
        start, end, text = cue
        self.count += 1
        who = self.speaker(s)
        if self.fmt == "vtt":
            voice = f"<v {_vtt_name(who)}>" if who else ""
            return f"\n{_stamp(start, '.')} --> {_stamp(end, '.')}\n{voice}{text}\n"
        text = f"{who}: {text}" if who else text
        if self.fmt == "txt":
            return text + "\n"
        gap = "\n" if self.count > 1 else ""
        return f"{gap}{self.count}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n"

    def tail(self) -> str:
        if self.fmt == "json":
            return ('  "segments": []' if self.count == 0 else "\n  ]") + "\n}"
        if self.fmt == "txt" and self.count == 0:
            return "\n"
        return ""


def _vtt_name(name: str) -> str:
    """A voice tag's annotation ends at ">" and may not hold a line break (WebVTT)."""
    return " ".join(name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def render(segments, fmt: str, names: dict[str, str] | None = None, **meta) -> str:
    stream = Stream(fmt, names, **meta)
    return stream.head() + "".join(stream.add(s) for s in segments) + stream.tail()


_CUE = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s+-->\s+(\d+):(\d\d):(\d\d)[,.](\d{3})")


def parse_cues(text: str) -> list[tuple[float, float, str]]:
    """Reads SRT or VTT cues back as (start, end, text)."""
    cues = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _CUE.search(line)
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        body = []
        for nxt in lines[i + 1 :]:
            if not nxt.strip():
                break
            body.append(nxt.strip())
        cues.append((start, end, " ".join(body)))
    return cues
