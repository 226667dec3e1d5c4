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
from app.core.speech.transcriber import Segment, Word

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2  # 2: words, speakers, their names and edits; transcripts from before it had none (1)
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
    speaker_names: dict[str, str] = field(default_factory=dict)  # a speaker's label -> the name the user gave
    audio: str = ""  # the file transcribed, where it was (to play it back); a dictation's is kept beside it

    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

    def speaker_name(self, label: str | None) -> str:
        """What a speaker is called: the user's name for them, else "Speaker 1"; "" for none."""
        if label is None:
            return ""
        return self.speaker_names.get(label) or f"Speaker {label}"

    def to_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "kind": self.kind, "created": self.created,
                "status": self.status, "error": self.error, "speaker_names": dict(self.speaker_names),
                "segments": [_segment_dict(s) for s in self.segments], **({"audio": self.audio} if self.audio else {})}


def _segment_dict(s: Segment) -> dict:
    out: dict = {"start": s.start, "end": s.end, "text": s.text}
    if s.words:
        out["words"] = [{"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
                        for w in s.words]
    if s.speaker is not None:
        out["speaker"] = s.speaker
    if s.original_text is not None:
        out["original_text"] = s.original_text
    return out


MAX_TEXT, MAX_WORDS, MAX_WORD, MAX_LABEL, MAX_NAME, MAX_SPEAKERS = 10_000, 2_000, 200, 40, 100, 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


MAX_SECONDS = 30 * 24 * 3600  # longer than any recording; Qt's player takes milliseconds as a 64-bit int


def _number(value, limit: float = MAX_SECONDS) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
            or value > limit):
        raise ValueError(f"not a time: {str(value)[:40]}")
    return float(value)


def _probability(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a probability: {value!r}")
    return min(1.0, max(0.0, float(value)))


def _label(value) -> str | None:
    """A speaker label, or None: anything else a file holds there is not one."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL or _CONTROL.search(value):
        return None
    return value


def clean_name(name: str) -> str:
    """A speaker's name as kept: one line, no control characters, bounded."""
    return " ".join(_CONTROL.sub(" ", name).split())[:MAX_NAME]


def _words(raw) -> list[Word]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_WORDS:
        raise ValueError("words is not a list of at most 2000")
    words = []
    for w in raw:
        if not isinstance(w, dict) or not isinstance(w.get("word"), str):
            raise ValueError("a word is not an object with a word")
        words.append(Word(_number(w.get("start")), _number(w.get("end")), w["word"][:MAX_WORD],
                          _probability(w.get("probability", 1.0))))
    return words


def _segment(s) -> Segment:
    if not isinstance(s, dict) or not isinstance(s.get("text"), str):
        raise ValueError("a segment is not an object with text")
    original = s.get("original_text")
    if original is not None and not isinstance(original, str):
        raise ValueError("a segment's original text is not text")
    return Segment(_number(s.get("start")), _number(s.get("end")), s["text"][:MAX_TEXT], _words(s.get("words")),
                   _label(s.get("speaker")), None if original is None else original[:MAX_TEXT])


def _speaker_names(raw) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    names = {}
    for label, name in list(raw.items())[:MAX_SPEAKERS]:
        if _label(label) is not None and isinstance(name, str) and clean_name(name):
            names[label] = clean_name(name)
    return names


def from_dict(data) -> Transcript:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not ID.match(data["id"]):
        raise ValueError("no valid id")
    segs = data.get("segments", [])
    if not isinstance(segs, list):
        raise ValueError("segments is not a list")
    segments = [_segment(s) for s in segs]
    status = str(data["status"]) if data.get("status") in STATUSES else "done"
    kind = "dictation" if data.get("kind") == "dictation" else "file"
    return Transcript(data["id"], str(data.get("source", ""))[:300], kind, _number(data.get("created", 0), 2**40),
                      status, str(data.get("error", ""))[:2000], segments, _speaker_names(data.get("speaker_names")),
                      _audio(data.get("audio")))


def _audio(value) -> str:
    """Where the file transcribed was: an absolute path of one line, else none (it is only read, to play)."""
    if not isinstance(value, str) or len(value) > 4096 or _CONTROL.search(value) or not Path(value).is_absolute():
        return ""
    return value


def export(transcript: Transcript, fmt: str, **meta) -> str:
    """The transcript as TXT, SRT, VTT or JSON, with the user's speaker names and corrected text."""
    from app.core.speech.subtitles import render

    return render(transcript.segments, fmt, transcript.speaker_names, **meta)


def rename_speaker(transcript: Transcript, label: str, name: str) -> None:
    """Names a speaker for the whole transcript; an empty name goes back to "Speaker N"."""
    if _label(label) is None:
        raise ValueError(f"not a speaker label: {label!r}")
    name = clean_name(name)
    if name:
        transcript.speaker_names[label] = name
    else:
        transcript.speaker_names.pop(label, None)


def edit_segment(transcript: Transcript, index: int, text: str) -> None:
    """The user's correction of a segment's text; the transcribed text is kept for undo. Words keep
    their timings (they still say where the audio is). Editing it back to the original is no edit."""
    seg = transcript.segments[index]
    text = text.strip()[:MAX_TEXT]
    original = seg.text if seg.original_text is None else seg.original_text
    seg.text = text
    seg.original_text = None if text == original else original


def undo_edit(transcript: Transcript, index: int) -> bool:
    """Back to the transcribed text; False when the segment was not edited."""
    seg = transcript.segments[index]
    if seg.original_text is None:
        return False
    seg.text, seg.original_text = seg.original_text, None
    return True


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
