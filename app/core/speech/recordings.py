"""The sound behind a transcript, for playing it back: the file transcribed, or a dictation's own
recording kept next to its transcript (``<id>.wav`` in the transcripts folder).

A dictation's recording is bounded (``MAX_DICTATION_S``): past it the rest is not kept, and the
transcript plays up to there.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import wave
from pathlib import Path

import numpy as np

from app.core.speech.audio import SAMPLE_RATE

log = logging.getLogger(__name__)
MAX_DICTATION_S = 30 * 60  # 57.6 MB of 16-bit mono at 16 kHz


class DictationAudio:
    """Gathers what the dictation fed the transcriber (its times count on these samples)."""

    def __init__(self, limit_s: float = MAX_DICTATION_S):
        self.limit = int(limit_s * SAMPLE_RATE)
        self.chunks: list[np.ndarray] = []
        self.samples = 0
        self.cut = False  # some was left out for the bound

    def add(self, pcm: np.ndarray) -> None:
        room = self.limit - self.samples
        if room <= 0:
            self.cut = True
            return
        if len(pcm) > room:
            pcm, self.cut = pcm[:room], True
        self.chunks.append(np.asarray(pcm, dtype=np.float32))
        self.samples += len(pcm)

    def write(self, path: Path) -> bool:
        """16-bit mono WAV, written whole then renamed into place; False (logged) when it could not be."""
        if not self.samples:
            return False
        pcm = np.clip(np.concatenate(self.chunks), -1.0, 1.0)
        part = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part.unlink(missing_ok=True)  # a left-over part (or a FIFO or link put there) is never opened
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open(fd, "wb") as fh, wave.open(fh, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                out.writeframes((pcm * 32767).astype("<i2").tobytes())
            part.replace(path)
        except OSError as exc:
            log.warning("could not keep the dictation's recording %s: %s", path.name, exc)
            part.unlink(missing_ok=True)
            return False
        return True


def dictation_path(store, transcript_id: str) -> Path:
    """Where a dictation's recording is kept (the id is checked as the store checks it)."""
    return store._path(transcript_id).with_suffix(".wav")


_SYSTEM = ("/proc/", "/sys/", "/dev/")


def playable_file(transcript) -> Path | None:
    """Where a file transcript's sound is, if the saved path is one this transcript may play: the file
    it names (its name is the transcript's source), a sound or video by that name, not in the system's
    own trees. A transcript file is read as hostile input: its ``audio`` must not make the pane open
    anything else (a document, /proc, a device) with the media decoders."""
    if not transcript.audio:
        return None
    path = Path(transcript.audio)
    kind = mimetypes.guess_type(path.name)[0]
    if (path.name != transcript.source or (kind is not None and kind.split("/")[0] not in ("audio", "video"))
            or os.path.normpath(path).startswith(_SYSTEM) or os.path.realpath(path).startswith(_SYSTEM)):
        log.info("a transcript's recording path was not played: it is not the file that was transcribed")
        return None
    return path


def audio_for(store, transcript) -> Path | None:
    """The sound to play for a transcript, or None when there is none (any more)."""
    path: Path | None
    if transcript.kind == "dictation":
        path = dictation_path(store, transcript.id)
    else:
        path = playable_file(transcript)
    return path if path is not None and path.is_file() else None
