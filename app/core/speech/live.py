"""Live dictation: 16 kHz mono frames in, text out as each utterance ends.

``UtteranceChunker`` splits the stream on voice activity (an energy detector
with an adaptive noise floor: cheap enough to run on every 30 ms frame).
``LiveDictation`` transcribes each finished utterance and, while speech goes
on, a provisional partial now and then. Plain Python, no Qt: the GUI feeds it
from a microphone, a test or a benchmark feeds it arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.core.speech.audio import SAMPLE_RATE

FRAME = 480  # 30 ms


@dataclass
class Utterance:
    audio: np.ndarray
    final: bool  # False: a snapshot of speech still going on
    ended_at: float  # monotonic time the last voiced frame arrived
    start_s: float = 0.0  # where the utterance lies in the stream fed so far (its audio's own clock)
    end_s: float = 0.0


@dataclass
class LiveEvent:
    kind: str  # "partial" | "final"
    text: str
    latency_s: float = 0.0  # final: from the end of speech to the text
    start_s: float = 0.0  # in the dictation's audio, from the first sample fed
    end_s: float = 0.0


class UtteranceChunker:
    def __init__(
        self,
        silence_s: float = 0.45,
        min_speech_s: float = 0.25,
        max_utterance_s: float = 20.0,
        preroll_s: float = 0.25,
        partial_every_s: float | None = 1.5,
    ):
        self.silence_frames = int(silence_s * SAMPLE_RATE / FRAME)
        self.min_frames = int(min_speech_s * SAMPLE_RATE / FRAME)
        self.max_frames = int(max_utterance_s * SAMPLE_RATE / FRAME)
        self.preroll_frames = int(preroll_s * SAMPLE_RATE / FRAME)
        self.partial_frames = int(partial_every_s * SAMPLE_RATE / FRAME) if partial_every_s else None
        self._pending = np.zeros(0, dtype=np.float32)
        self._preroll: list[np.ndarray] = []
        self._speech: list[np.ndarray] = []
        self._voiced = 0
        self._silent = 0
        self._since_partial = 0
        self._last_voiced_at = 0.0
        self._frames = 0  # frames seen since the start: the stream's clock (time taken to transcribe is not in it)
        self._start_frame = 0
        self._last_voiced_frame = 0
        self.noise = 0.003
        self.level = 0.0  # RMS of the last frame, for a level meter

    def _is_speech(self, rms: float) -> bool:
        threshold = max(0.012, self.noise * 3.5)
        if rms < threshold:  # track the noise floor only in quiet frames
            self.noise = 0.95 * self.noise + 0.05 * rms
        return rms >= threshold

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        out: list[Utterance] = []
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = data.size // FRAME
        self._pending = data[n * FRAME :].copy()
        for i in range(n):
            frame = data[i * FRAME : (i + 1) * FRAME]
            self._frames += 1
            rms = float(np.sqrt(np.mean(frame * frame)))
            self.level = rms
            speech = self._is_speech(rms)
            if not self._speech:
                if speech:
                    self._speech = [*self._preroll, frame]
                    self._start_frame = self._frames - len(self._speech)
                    self._last_voiced_frame = self._frames
                    self._voiced, self._silent, self._since_partial = 1, 0, 0
                    self._last_voiced_at = time.monotonic()
                else:
                    self._preroll = (self._preroll + [frame])[-self.preroll_frames :]
                continue
            self._speech.append(frame)
            self._since_partial += 1
            if speech:
                self._voiced += 1
                self._silent = 0
                self._last_voiced_at = time.monotonic()
                self._last_voiced_frame = self._frames
            else:
                self._silent += 1
            if self._silent >= self.silence_frames or len(self._speech) >= self.max_frames:
                utt = self._finish()
                if utt is not None:
                    out.append(utt)
            elif self.partial_frames and self._since_partial >= self.partial_frames and self._voiced >= self.min_frames:
                self._since_partial = 0
                out.append(Utterance(np.concatenate(self._speech), False, self._last_voiced_at, *self._span()))
        return out

    def _span(self) -> tuple[float, float]:
        """(start, end) of the open utterance in seconds of audio: from its first frame (pre-roll
        included) to the end of its last voiced frame, so trailing silence is not counted."""
        seconds = FRAME / SAMPLE_RATE
        return self._start_frame * seconds, self._last_voiced_frame * seconds

    def _finish(self) -> Utterance | None:
        speech, voiced = self._speech, self._voiced
        span = self._span()
        self._speech, self._preroll, self._voiced, self._silent = [], [], 0, 0
        if voiced < self.min_frames:  # a click or a cough
            return None
        return Utterance(np.concatenate(speech), True, self._last_voiced_at, *span)

    def flush(self) -> Utterance | None:
        """End of input (push-to-talk released): whatever speech is open is final."""
        if not self._speech:
            return None
        self._last_voiced_at = time.monotonic()
        self._last_voiced_frame = self._frames
        return self._finish()


class LiveDictation:
    def __init__(self, transcriber, language: str | None = None, partials: bool = True):
        from app.core.speech.transcriber import TranscribeOptions

        self.transcriber = transcriber
        self.chunker = UtteranceChunker(max_utterance_s=12.0, partial_every_s=2.0 if partials else None)
        # Greedy decoding and no VAD pass: the chunker already cut the speech out.
        self.final_options = TranscribeOptions(language=language, beam_size=1, vad_filter=False, batched=False)
        self.partial_options = TranscribeOptions(language=language, beam_size=1, vad_filter=False, batched=False)

    def _text(self, audio: np.ndarray, options) -> str:
        from app.core.speech.transcriber import Segment

        parts = [s.text for s in self.transcriber.transcribe_array(audio, options) if isinstance(s, Segment)]
        return " ".join(p for p in parts if p).strip()

    def feed(self, samples: np.ndarray) -> list[LiveEvent]:
        """Transcribes every utterance that ended, and at most one partial: the newest,
        if speech is still going on after the last end."""
        utterances = self.chunker.feed(samples)
        keep = [u for u in utterances if u.final]
        if utterances and not utterances[-1].final:
            keep.append(utterances[-1])
        return [e for e in (self._event(u) for u in keep) if e.text]

    def flush(self) -> list[LiveEvent]:
        u = self.chunker.flush()
        return [e for e in ([self._event(u)] if u is not None else []) if e.text]

    def _event(self, u: Utterance) -> LiveEvent:
        text = self._text(u.audio, self.final_options if u.final else self.partial_options)
        if u.final:
            return LiveEvent("final", text, time.monotonic() - u.ended_at, u.start_s, u.end_s)
        return LiveEvent("partial", text, 0.0, u.start_s, u.end_s)

    @property
    def level(self) -> float:
        return self.chunker.level
