"""Transcription with faster-whisper. Plain Python, no Qt.

``Transcriber.transcribe`` yields ``Segment``s as they are produced, with the
progress through the audio. faster-whisper decodes 30-second windows that
cannot be interrupted, so decoding runs on a helper thread and the generator
waits on it: a cancel is answered at once, and the helper finishes its window
and stops on its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.core.hardware import DeviceChoice, choose_device, physical_cores
from app.core.jobs import Cancelled, CancelToken, InputError, ModelError
from app.core.speech.audio import SAMPLE_RATE, iter_chunks, probe

log = logging.getLogger(__name__)


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TranscribeOptions:
    language: str | None = None  # None: detect
    task: str = "transcribe"  # or "translate" (to English)
    beam_size: int = 5
    vad_filter: bool = True  # skips silence; no text invented from nothing
    word_timestamps: bool = False
    initial_prompt: str | None = None


@dataclass
class TranscriptProgress:
    fraction: float
    seconds_done: float
    duration_s: float | None
    language: str | None = None


class Transcriber:
    def __init__(self, model_dir: Path, device: str = "auto", threads: int | None = None, model_id: str = ""):
        from app.core.models.validate import validate

        model_dir = Path(model_dir)
        validate(model_dir, "speech")  # a clear message before CTranslate2 sees it
        self.model_id = model_id or model_dir.name
        self.choice = choose_device("ctranslate2", device)
        self.notices: list[str] = []
        threads = threads or physical_cores()
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - an install problem
            raise ModelError(f"faster-whisper is not installed: {exc}") from exc
        try:
            self.model = WhisperModel(str(model_dir), device=self.choice.device,
                                      compute_type=self.choice.detail, cpu_threads=threads)
            if self.choice.device == "cuda":
                self._warm_up()
        except (RuntimeError, ValueError, OSError) as exc:
            if self.choice.device == "cpu":
                raise ModelError(f"the speech model could not be loaded: {exc}") from exc
            self.notices.append(f"GPU load failed ({exc}); running on the CPU instead")
            log.warning("speech model on CUDA failed: %s; falling back to CPU", exc)
            self.choice = DeviceChoice("ctranslate2", "cpu", "int8", f"GPU load failed: {exc}")
            self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self._busy = threading.Lock()  # one decode at a time, also after an abandoned one

    def _warm_up(self) -> None:
        """One second of silence through the model. CTranslate2 opens cuBLAS and cuDNN on first
        use, not at load: without this a missing CUDA 12 library fails the user's first file."""
        segments, _ = self.model.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="en", beam_size=1,
                                            vad_filter=False, without_timestamps=True)
        list(segments)

    # --- core ------------------------------------------------------------------------
    def transcribe_array(
        self, audio: np.ndarray, options: TranscribeOptions | None = None, cancel: CancelToken | None = None,
        offset: float = 0.0,
    ) -> Iterator[Segment | TranscriptProgress]:
        options = options or TranscribeOptions()
        cancel = cancel or CancelToken()
        out: queue.Queue = queue.Queue(maxsize=64)
        stop = threading.Event()
        duration = audio.size / SAMPLE_RATE
        done = object()

        def run():
            with self._busy:
                try:
                    segments, info = self.model.transcribe(
                        audio,
                        language=options.language,
                        task=options.task,
                        beam_size=options.beam_size,
                        vad_filter=options.vad_filter,
                        word_timestamps=options.word_timestamps,
                        initial_prompt=options.initial_prompt,
                        condition_on_previous_text=False,  # no runaway repetition on long files
                    )
                    out.put(("info", info.language))
                    for s in segments:
                        if stop.is_set():
                            break
                        out.put(("segment", s))
                except Exception as exc:  # noqa: BLE001 - handed to the consumer
                    out.put(("error", exc))
                finally:
                    out.put((done, None))

        threading.Thread(target=run, name="whisper-decode", daemon=True).start()
        language = options.language
        try:
            while True:
                try:
                    kind, value = out.get(timeout=0.05)
                except queue.Empty:
                    cancel.raise_if_cancelled()
                    continue
                cancel.raise_if_cancelled()
                if kind is done:
                    return
                if kind == "error":
                    raise ModelError(f"transcription failed: {value}") from value
                if kind == "info":
                    language = value
                    continue
                s = value
                words = [Word(w.start + offset, w.end + offset, w.word, w.probability) for w in (s.words or [])]
                yield Segment(s.start + offset, s.end + offset, s.text.strip(), words)
                yield TranscriptProgress(min(1.0, s.end / duration) if duration else 1.0, s.end + offset, None,
                                         language)
        finally:
            stop.set()

    def transcribe(
        self, path: Path, options: TranscribeOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[Segment | TranscriptProgress]:
        """Yields segments and progress for a file, chunk by chunk (bounded memory)."""
        cancel = cancel or CancelToken()
        info = probe(path)
        total = info.duration_s
        offset = 0.0
        for chunk in iter_chunks(path):
            cancel.raise_if_cancelled()
            for item in self.transcribe_array(chunk, options, cancel, offset):
                if isinstance(item, TranscriptProgress):
                    item.duration_s = total
                    item.fraction = min(1.0, item.seconds_done / total) if total else item.fraction
                yield item
            offset += chunk.size / SAMPLE_RATE
        yield TranscriptProgress(1.0, offset, total)


def transcribe_all(transcriber: Transcriber, path: Path, options=None, cancel=None) -> list[Segment]:
    return [s for s in transcriber.transcribe(path, options, cancel) if isinstance(s, Segment)]


__all__ = [
    "Cancelled", "InputError", "Segment", "TranscribeOptions", "Transcriber", "TranscriptProgress", "Word",
    "transcribe_all",
]
