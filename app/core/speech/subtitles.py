"""Transcript exports: TXT, SRT, VTT and JSON, and SRT/VTT readers for checking them."""

from __future__ import annotations

import json
import re

FORMATS = ("txt", "srt", "vtt", "json")


def _clean(segments) -> list:
    """Monotonic and non-overlapping, whatever the decoder produced."""
    out, last_end = [], 0.0
    for s in segments:
        start = max(s.start, last_end)
        end = max(s.end, start + 0.01)
        out.append((start, end, s.text.strip()))
        last_end = end
    return [t for t in out if t[2]]


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_txt(segments) -> str:
    return "\n".join(text for _, _, text in _clean(segments)) + "\n"


def to_srt(segments) -> str:
    blocks = []
    for i, (start, end, text) in enumerate(_clean(segments), start=1):
        blocks.append(f"{i}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(segments) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, text in _clean(segments):
        blocks.append(f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text}\n")
    return "\n".join(blocks)


def to_json(segments, **meta) -> str:
    items = [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in segments]
    return json.dumps({**meta, "segments": items}, indent=2, ensure_ascii=False)


def render(segments, fmt: str, **meta) -> str:
    if fmt == "txt":
        return to_txt(segments)
    if fmt == "srt":
        return to_srt(segments)
    if fmt == "vtt":
        return to_vtt(segments)
    if fmt == "json":
        return to_json(segments, **meta)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


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
