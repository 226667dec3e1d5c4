"""The list of transcripts: one per file transcribed and one per dictation, kept across restarts.

Each is a small JSON file in ``<data>/transcripts/``, written atomically. Files
read back are checked (id shape, types, finite times) before use; a damaged one is
set aside under a name that says so and the user told (app.core.saved_json), never
a crash; one a newer Hearth wrote is shown and never written over.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.saved_json import NewerFileError, SetAsideError, read_versioned, set_aside, write_versioned
from app.core.speech.transcriber import Segment

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1  # transcripts from before it had none (1)
ID = re.compile(r"^[0-9a-f]{32}$")
STATUSES = ("running", "done", "failed", "cancelled")


@dataclass
class Transcript:
    id: str
    source: str  # the file's name, or "Dictation"
    kind: str = "file"  # "file" | "dictation"
    created: float = field(default_factory=time.time)
    status: str = "running"
    error: str = ""
    segments: list[Segment] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

    def to_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "kind": self.kind, "created": self.created,
                "status": self.status, "error": self.error,
                "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in self.segments]}


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"not a time: {value!r}")
    return float(value)


def from_dict(data) -> Transcript:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not ID.match(data["id"]):
        raise ValueError("no valid id")
    segs = data.get("segments", [])
    if not isinstance(segs, list):
        raise ValueError("segments is not a list")
    segments = []
    for s in segs:
        if not isinstance(s, dict) or not isinstance(s.get("text"), str):
            raise ValueError("a segment is not an object with text")
        segments.append(Segment(_number(s.get("start")), _number(s.get("end")), s["text"][:10_000]))
    status = str(data["status"]) if data.get("status") in STATUSES else "done"
    kind = "dictation" if data.get("kind") == "dictation" else "file"
    return Transcript(data["id"], str(data.get("source", ""))[:300], kind, _number(data.get("created", 0)),
                      status, str(data.get("error", ""))[:2000], segments)


def _set_aside(path: Path, problem: str) -> None:
    try:
        set_aside(path, problem)
    except SetAsideError as exc:
        log.warning("%s", exc)


class TranscriptStore:
    def __init__(self, folder: Path | None = None):
        self.folder = folder or paths.data_dir() / "transcripts"

    def new(self, source: str, kind: str = "file") -> Transcript:
        return Transcript(uuid.uuid4().hex, source, kind)

    def _path(self, transcript_id: str) -> Path:
        if not ID.match(transcript_id):
            raise ValueError(f"not a transcript id: {transcript_id!r}")
        return self.folder / f"{transcript_id}.json"

    def save(self, transcript: Transcript) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            path = self._path(transcript.id)
            write_versioned(path, transcript.to_dict(), SCHEMA_VERSION, f"the transcript {path.name}")
        except NewerFileError as exc:
            log.info("%s", exc)

    def delete(self, transcript_id: str) -> None:
        self._path(transcript_id).unlink(missing_ok=True)

    def list(self) -> list[Transcript]:
        """Oldest first; a transcript still "running" at start-up was interrupted."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            got = read_versioned(path, SCHEMA_VERSION, f"the transcript {path.name}")
            if got.data is None:
                continue
            try:
                t = from_dict(got.data)
            except ValueError as exc:
                if got.read_only:
                    log.info("skipped the newer transcript file %s: %s", path.name, exc)
                else:
                    _set_aside(path, str(exc))
                continue
            if path.stem != t.id:
                log.warning("skipped the transcript file %s: its id says %s", path.name, t.id)
                continue
            if t.status == "running":
                t.status, t.error = "cancelled", "interrupted"
            out.append(t)
        return sorted(out, key=lambda t: t.created)
