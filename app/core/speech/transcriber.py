"""Transcription with faster-whisper. Plain Python, no Qt.

``Transcriber.transcribe`` yields ``Segment``s as they are produced, with the
progress through the audio. Files go through faster-whisper's batched
pipeline by default: speech cut at pauses by the VAD, up to 30 s a piece,
decoded several pieces at a time, each piece then cut into subtitle cues by
its word timings (``batched=False`` gives the sequential path, which live
dictation uses). On a CPU the pieces are decoded side by side, one a core
(see ``file_workers``); on a GPU, in batches. Neither a window nor a batch can be
interrupted, so decoding runs on a helper thread and the generator waits on
it: a cancel is answered at once, and the helper finishes its batch and
stops on its own. A batch can take a minute on a busy CPU, so batched and
sequential decodes have a lane each on the one model (two CTranslate2
workers sharing the weights): dictation never waits behind a file's batch.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
class DecodeStats:
    """What the decoder said of a segment, for OpenAI's verbose_json; not saved with a transcript. A cue
    cut from a piece has the piece's figures and its own text's tokens."""
    seek: int = 0
    tokens: list[int] = field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None  # a label, "1", "2"...: shown as "Speaker 1" unless renamed
    original_text: str | None = None  # the text as transcribed, once the user has edited it
    decode: DecodeStats | None = field(default=None, compare=False, repr=False)

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
    batched: bool = True  # the batched pipeline (needs vad_filter); False: sequential windows
    batch_size: int | None = None  # None: chosen from the hardware and free memory


@dataclass
class TranscriptProgress:
    fraction: float
    seconds_done: float
    duration_s: float | None
    language: str | None = None


GPU_BATCH_CAP, CPU_BATCH_CAP = 16, 8
QUEUE_SIZE = 64  # segments decoded ahead of the reader
MIN_ITEM_BYTES = 96 * 2**20
SIDE_BY_SIDE_CAP = 16  # pieces in flight on a CPU, however many cores


def choose_batch_size(device: str, weights_bytes: int, free_bytes: int) -> int:
    """Pieces decoded at once. Each costs about half the model's weights in activations (encoder
    output and the beams' cross-attention caches; measured on base and large-v3), and a batch may
    use half of the memory that is free. On a CPU more than 8 gains nothing and delays the first
    text; on a GPU 16 fills the device."""
    per_item = max(weights_bytes // 2, MIN_ITEM_BYTES)
    cap = GPU_BATCH_CAP if device == "cuda" else CPU_BATCH_CAP
    return max(1, min(cap, int(free_bytes // 2 // per_item)))


def _free_bytes(device: str, gpu_total: int, weights_bytes: int) -> int:
    if device == "cuda":
        return max(0, gpu_total - weights_bytes)
    import psutil

    return psutil.virtual_memory().available


def file_workers(cores: int, weights_bytes: int, free_bytes: int) -> tuple[int, int]:
    """(workers, threads each) that decode a file's pieces side by side on a CPU.

    Measured on 2 cores (whisper-base, beam 5): CTranslate2's beam search runs no faster on two
    threads than on one (2.65 s against 2.43 s for a batch of three pieces; 4.25 s against 2.56 s
    for three pieces one by one), while one piece a core keeps both cores busy in the encoder
    too: a one-minute clip took 3.3 s that way against 4.3 s for one batch on two threads.
    Above 4 cores a worker gets 2 threads, so a short file's few pieces still use most of them
    (not measured here). The workers share one more copy of the weights, and each piece in
    flight costs what a batch item does (see choose_batch_size): fewer when memory is short."""
    threads = 1 if cores <= 4 else 2
    per_item = max(weights_bytes // 2, MIN_ITEM_BYTES)
    by_memory = int(max(0, free_bytes - weights_bytes) // 2 // per_item)
    return max(1, min(cores // threads, by_memory, SIDE_BY_SIDE_CAP)), threads


PIECE_S = 29.0  # a piece is decoded as one 30 s window; the VAD pads speech a little


def speech_pieces(audio: np.ndarray) -> list[dict]:
    """Spans of the audio (seconds) to decode one each: speech found by the VAD, joined while
    the span stays under 30 s. faster-whisper's own packing joins speech across any pause
    (a segment then ran from 0:00 to 4:09 over two silent minutes); a span keeps it honest."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(max_speech_duration_s=PIECE_S, min_silence_duration_ms=160)
    pieces: list[dict] = []
    for s in get_speech_timestamps(audio, vad):
        if pieces and s["end"] - pieces[-1]["start"] <= PIECE_S * SAMPLE_RATE:
            pieces[-1]["end"] = s["end"]
        else:
            pieces.append({"start": s["start"], "end": s["end"]})
    return [{"start": p["start"] / SAMPLE_RATE, "end": p["end"] / SAMPLE_RATE} for p in pieces]


CUE_MAX_S, CUE_MAX_CHARS, CUE_PAUSE_S = 7.0, 84, 0.6
SENTENCE_ENDS = (".", "?", "!", "。", "？", "！")


def cues(piece, keep_words: bool) -> list[SimpleNamespace]:
    """A batched piece (one segment of up to 30 s) cut into subtitle-sized segments by its word
    timings: after a sentence's end, at a pause, or before a cue passes 7 s or 84 characters
    (8 s and 96 for the word that ends a sentence).
    Each runs from its first word's start to its last word's end; no word is dropped."""
    words = list(piece.words or [])
    if not words:
        return [SimpleNamespace(start=piece.start, end=piece.end, text=piece.text, words=None, piece=piece)]
    groups: list[list] = [[words[0]]]
    for prev, w in zip(words, words[1:], strict=False):
        group = groups[-1]
        text = "".join(x.word for x in group).strip()
        # The word that ends a sentence may take a cue to 8 s / 96 characters: no one-word orphan cue.
        slack = 8 / 7 if w.word.strip().endswith(SENTENCE_ENDS) else 1.0
        if (text.endswith(SENTENCE_ENDS) or w.start - prev.end > CUE_PAUSE_S
                or w.end - group[0].start > CUE_MAX_S * slack
                or len(text) + len(w.word) > CUE_MAX_CHARS * slack):
            groups.append([w])
        else:
            group.append(w)
    return [SimpleNamespace(start=g[0].start, end=max(g[0].start, g[-1].end),
                            text="".join(x.word for x in g).strip(), words=g if keep_words else None,
                            piece=piece, whole=len(groups) == 1)
            for g in groups]


class _LanguageTap:
    """The CTranslate2 model as a batched pipeline sees it, keeping the languages it detects.

    Given no language, the pipeline runs the encoder once more over the first 30 s just to
    detect it: 11% of a one-minute clip on 2 cores. With multilingual=True it reads each piece's
    language from the batch's own encoder output instead (one decoder step); this keeps that."""

    def __init__(self, model):
        self._model = model
        self.languages: list[tuple[str, float]] = []

    def detect_language(self, *args, **kwargs):
        found = self._model.detect_language(*args, **kwargs)
        self.languages = [langs[0] for langs in found]
        return found

    def __getattr__(self, name):
        return getattr(self._model, name)


def _most_likely(languages: list[tuple[str, float]]) -> str:
    """The language with the most probability over a batch's pieces; tokens read "<|en|>"."""
    votes: dict[str, float] = {}
    for token, p in languages:
        votes[token.strip("<|>")] = votes.get(token.strip("<|>"), 0.0) + p
    return max(votes, key=votes.__getitem__)


def batch_groups(pieces: list, size: int, ramp: bool, whole: int = 3) -> list[list]:
    """Pieces grouped into batches. Up to ``whole`` pieces (about 1.5 minutes of speech) are one
    batch: on 2 cores a one-minute clip split 1 + 2 took 1.3x as long as one batch of 3, and the
    batch is done in seconds. A file's first chunk with more ramps up, 1, 2, 4... pieces, so its
    first text is on screen after one piece's decode and a Stop early in a file frees the model at
    once (a batch cannot be interrupted); every later batch is full, chunk after chunk."""
    if not ramp or len(pieces) <= min(whole, size):
        return [pieces[i : i + size] for i in range(0, len(pieces), size)]
    groups, n = [], 1
    while pieces:
        groups.append(pieces[:n])
        pieces, n = pieces[n:], min(size, n * 2)
    return groups


class _PieceWorkers:
    """Threads that decode pieces, each through its own CTranslate2 worker. Daemon threads, not a
    ThreadPoolExecutor: the interpreter joins an executor's threads at exit, so quitting in the
    middle of a file would wait, window gone, for every piece in flight."""

    def __init__(self, decode, count: int):
        self._decode, self._count = decode, count
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(count):
            threading.Thread(target=self._run, name=f"whisper-piece-{i}", daemon=True).start()

    def submit(self, *args) -> Future:
        future: Future = Future()
        self._todo.put((future, args))
        return future

    def close(self) -> None:
        for _ in range(self._count):
            self._todo.put(None)

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            future, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._decode(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the reader, in the pieces' order
                    future.set_exception(exc)


_loaded: dict = {}  # the last model loaded, by folder (as it is on disk), device and threads
_loading = threading.Lock()


@dataclass
class DecodeClock:
    """Seconds a decode spent on the model's own work: not waiting for its lane, nor for a reader
    that stopped taking segments. ``sequential``: how often the other lane ran meanwhile."""

    seconds: float = 0.0
    speech_s: float = 0.0  # of it, what the VAD found to be speech (batched files)
    sequential_runs: int = 0


@dataclass(frozen=True)
class Lanes:
    """One decode at a time in each lane. ``batched``: files' batches (one batch's memory at a
    time; a batch cannot be interrupted, and one a cancelled file left running may take a
    minute on a loaded CPU). ``sequential``: live dictation and unbatched files, one 30 s window
    at a time, so it never queues behind a batch. The model has a CTranslate2 worker per lane."""

    batched: threading.Lock = field(default_factory=threading.Lock)
    sequential: threading.Lock = field(default_factory=threading.Lock)
    sequential_runs: list = field(default_factory=lambda: [0])  # decodes begun in the sequential lane
    side_by_side: list = field(default_factory=list)  # [SideBySide or None], made at the first file (CPU)


@dataclass(frozen=True)
class SideBySide:
    """A CPU's file decoders: ``workers`` CTranslate2 workers of a thread or two, one piece each.
    A model of its own, since CTranslate2 sets threads per model: dictation keeps the main
    model's threads, all of them on one short window, for its latency."""

    model: Any  # a WhisperModel sharing the main one's tokenizer; its .model has the workers
    workers: int


def _load_model(model_dir: Path, device: str, compute_type: str, threads: int):
    """A WhisperModel and its decode lanes, shared by every Transcriber of the same folder,
    device and threads (the pane, dictation, a reload). Building one parses tokenizer.json
    (50,000 merges) in Rust without releasing the GIL: 100-300 ms in which the GUI thread cannot
    run a line of Python, the Speech pane's stall in #11. Shared, it is parsed once a session.
    Its two workers (num_workers=2, CTranslate2's inter_threads) share the weights in memory,
    so the two lanes decode at the same time without a second copy of the model."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:  # pragma: no cover - an install problem
        raise ModelError(f"faster-whisper is not installed: {exc}") from exc
    stat = (model_dir / "model.bin").stat()
    key = (str(model_dir.resolve()), stat.st_size, stat.st_mtime_ns, device, compute_type, threads)
    with _loading:
        if key not in _loaded:
            model = WhisperModel(str(model_dir), device=device, compute_type=compute_type, cpu_threads=threads,
                                 num_workers=2)
            if device == "cuda":
                _warm_up(model)
            _loaded.clear()  # one at a time: a model switched away from is freed with its Transcriber
            _loaded[key] = (model, Lanes())
        return _loaded[key]


def _warm_up(model) -> None:
    """One second of silence through the model. CTranslate2 opens cuBLAS and cuDNN on first
    use, not at load: without this a missing CUDA 12 library fails the user's first file."""
    segments, _ = model.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="en", beam_size=1,
                                   vad_filter=False, without_timestamps=True)
    list(segments)


class Transcriber:
    def __init__(self, model_dir: Path, device: str = "auto", threads: int | None = None, model_id: str = "",
                 on_measured=None):
        """``on_measured(seconds, audio_s, device)``: after each whole file, the model's decode time."""
        from app.core.models.validate import validate

        model_dir = Path(model_dir)
        validate(model_dir, "speech")  # a clear message before CTranslate2 sees it
        self.model_id = model_id or model_dir.name
        self.on_measured = on_measured
        self.choice = choose_device("ctranslate2", device)
        self.notices: list[str] = []
        self._weights_bytes = sum(f.stat().st_size for f in model_dir.glob("*.bin"))
        self._batch_size: int | None = None
        self._model_dir = model_dir
        self._threads = threads = threads or physical_cores()
        try:
            self.model, self._lanes = _load_model(model_dir, self.choice.device, self.choice.detail, threads)
        except (RuntimeError, ValueError, OSError) as exc:
            if self.choice.device == "cpu":
                raise ModelError(f"the speech model could not be loaded: {exc}") from exc
            self.notices.append(f"GPU load failed ({exc}); running on the CPU instead")
            log.warning("speech model on CUDA failed: %s; falling back to CPU", exc)
            self.choice = DeviceChoice("ctranslate2", "cpu", "int8", f"GPU load failed: {exc}")
            self.model, self._lanes = _load_model(model_dir, "cpu", "int8", threads)

    @property
    def batch_size(self) -> int:
        """Chosen on first use, from the device, the GPU's memory and what RAM is free."""
        if self._batch_size is None:
            gpu_total = 0
            if self.choice.device == "cuda":
                from app.core import hardware

                gpu_total = max((g.vram_bytes for g in hardware.detect_nvidia()), default=0)
            free = _free_bytes(self.choice.device, gpu_total, self._weights_bytes)
            self._batch_size = choose_batch_size(self.choice.device, self._weights_bytes, free)
            log.info("speech: batches of %d on %s", self._batch_size, self.choice.device)
        return self._batch_size

    def _side_by_side(self) -> SideBySide | None:
        """The CPU's file decoders, made at the first file (in the batched lane, so once) and shared
        like the model. None on a GPU, on one core, or where memory is short: files are batched."""
        made = self._lanes.side_by_side
        if made:
            return made[0]
        if self.choice.device != "cpu" or self._threads < 2:
            made.append(None)
            return None
        import psutil

        workers, threads = file_workers(self._threads, self._weights_bytes, psutil.virtual_memory().available)
        if workers < 2:  # memory is short now: batched, and asked again at the next file
            return None
        try:
            import ctranslate2

            model = copy.copy(self.model)
            model.model = ctranslate2.models.Whisper(str(self._model_dir), device="cpu",
                                                     compute_type=self.choice.detail,
                                                     intra_threads=threads, inter_threads=workers)
        except (RuntimeError, ValueError, OSError, MemoryError) as exc:
            log.warning("speech: side-by-side decoders failed (%s); files are batched", exc)
            made.append(None)
            return None
        made.append(SideBySide(model, workers))
        log.info("speech: files decoded %d pieces at a time, %d thread(s) each", workers, threads)
        return made[0]

    def _one_by_one(self, audio: np.ndarray, options: TranscribeOptions, pieces: list[dict],
                    stop: threading.Event, decoders: SideBySide):
        """Each piece on a worker of its own, as many at once as there are workers, in order: the
        first text is on screen after one piece, and a Stop waits for at most one piece a worker.
        Until a file's language is known (see _LanguageTap), only the first pieces, one a worker,
        read it from their own encoder output; every piece after them is given it."""
        from faster_whisper import BatchedInferencePipeline

        multilingual = self.model.model.is_multilingual
        info = SimpleNamespace(language=options.language or (None if multilingual else "en"))
        at_once = min(decoders.workers, options.batch_size or decoders.workers)

        def decode(piece: dict, language: str | None):
            tapped = copy.copy(decoders.model)
            tapped.model = tap = _LanguageTap(decoders.model.model)
            batch, _ = BatchedInferencePipeline(tapped).transcribe(
                audio, clip_timestamps=[piece], language=language or "en", multilingual=language is None,
                task=options.task, beam_size=options.beam_size, initial_prompt=options.initial_prompt,
                batch_size=1, without_timestamps=True, word_timestamps=True)  # as in _batched
            return list(batch), tap.languages

        def segments():
            todo, running = deque(pieces), deque[Future]()  # running: in the pieces' order, done or not
            heard: list[tuple[str, float]] = []
            learned: set[Future] = set()
            workers = _PieceWorkers(decode, at_once)
            try:
                while todo or running:
                    for f in running:  # a language from any piece that has finished, before the next goes
                        if f.done() and f not in learned and f.exception() is None:
                            learned.add(f)
                            if f.result()[1] and not options.language:
                                heard.extend(f.result()[1])
                                info.language = _most_likely(heard)
                    busy = [f for f in running if not f.done()]
                    failed = any(f.done() and f.exception() is not None for f in running)
                    while todo and len(busy) < at_once and not (stop.is_set() or failed):
                        busy.append(workers.submit(todo.popleft(), info.language))
                        running.append(busy[-1])
                    if not running:  # the reader has gone: no new piece
                        return
                    if not running[0].done():  # the next in order is not ready: wait for any worker
                        wait(busy, return_when=FIRST_COMPLETED)
                        continue
                    for piece in running.popleft().result()[0]:  # a piece's error is raised here, in order
                        yield from cues(piece, options.word_timestamps)
            finally:  # closed early (a Stop, an error): the pieces in flight finish before the lane is free
                wait(running)
                workers.close()

        return segments(), info

    def _batched(self, audio: np.ndarray, options: TranscribeOptions, pieces: list[dict], stop: threading.Event,
                 ramp: bool):
        """The pieces in batches (see batch_groups), or side by side on a CPU that has the cores and
        memory for it (see _one_by_one). An unknown language is read from the first batch's own
        encoder output (see _LanguageTap) and given to the batches after it."""
        decoders = self._side_by_side()
        if decoders is not None:
            return self._one_by_one(audio, options, pieces, stop, decoders)
        # A new pipeline per call: it keeps state between batches that an abandoned run would leave.
        from faster_whisper import BatchedInferencePipeline

        tapped = copy.copy(self.model)  # the same weights and tokenizer; only its .model is wrapped
        tapped.model = tap = _LanguageTap(self.model.model)
        pipeline = BatchedInferencePipeline(tapped)
        size = options.batch_size or self.batch_size
        # A GPU decodes a full batch in about the time a CPU takes for one piece.
        groups = batch_groups(pieces, size, ramp, whole=size if self.choice.device == "cuda" else 3)
        multilingual = self.model.model.is_multilingual
        info = SimpleNamespace(language=options.language or (None if multilingual else "en"))

        def segments():
            for k, group in enumerate(groups):
                if k and stop.is_set():  # the reader has gone: no new batch
                    return
                detect = info.language is None
                batch, _ = pipeline.transcribe(
                    audio, clip_timestamps=group, language=info.language or "en", multilingual=detect,
                    task=options.task, beam_size=options.beam_size, initial_prompt=options.initial_prompt,
                    batch_size=len(group),
                    # One segment per piece. With timestamps the pipeline drops a piece's text after its
                    # last timestamp (it has no next window to seek to): 12 of 180 sentences on a 2-hour file.
                    # Word timings (cross-attention, no timestamp tokens) then cut it into cues.
                    without_timestamps=True, word_timestamps=True,
                )
                for piece in batch:  # the whole batch is decoded before its first piece comes
                    if detect and tap.languages:
                        info.language = _most_likely(tap.languages)
                    yield from cues(piece, options.word_timestamps)

        return segments(), info

    def _decode(self, audio: np.ndarray, options: TranscribeOptions, stop: threading.Event, ramp: bool,
                clock: DecodeClock | None = None):
        """(segments, info) from faster-whisper: the batched pipeline or the sequential one."""
        if options.batched and options.vad_filter:
            pieces = speech_pieces(audio)
            if clock is not None:
                clock.speech_s += sum(p["end"] - p["start"] for p in pieces)
            if not pieces:  # silence: nothing to decode, no language to detect
                return iter(()), SimpleNamespace(language=options.language)
            return self._batched(audio, options, pieces, stop, ramp)
        return self.model.transcribe(
            audio,
            language=options.language,
            task=options.task,
            beam_size=options.beam_size,
            vad_filter=options.vad_filter,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.initial_prompt,
            condition_on_previous_text=False,  # no runaway repetition on long files
        )

    # --- core ------------------------------------------------------------------------
    def transcribe_array(
        self, audio: np.ndarray, options: TranscribeOptions | None = None, cancel: CancelToken | None = None,
        offset: float = 0.0, ramp: bool = True, clock: DecodeClock | None = None,
    ) -> Iterator[Segment | TranscriptProgress]:
        """Segments and progress for audio in memory; ramp: small batches first (see batch_groups).
        ``clock`` is given the decode's own seconds once it has finished."""
        options = options or TranscribeOptions()
        cancel = cancel or CancelToken()
        out: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        stop = threading.Event()
        duration = audio.size / SAMPLE_RATE
        done = object()

        waited = [0.0]  # seconds the decode thread spent blocked on a full queue: the reader's time

        def put(item) -> bool:
            # Never blocks for ever: a consumer that stopped reading (cancelled) would
            # otherwise hold this thread, and the decode lock, once a batch filled the queue.
            began = time.perf_counter()
            try:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        return True
                    except queue.Full:
                        continue
                return False
            finally:
                waited[0] += time.perf_counter() - began

        batched = options.batched and options.vad_filter
        lane = self._lanes.batched if batched else self._lanes.sequential

        def run():
            with lane:
                if stop.is_set():  # cancelled while it waited for the lane
                    return
                if not batched:
                    self._lanes.sequential_runs[0] += 1
                elif self.choice.device == "cpu":
                    self._side_by_side()  # made at a session's first file: a load, not decoding time
                began = time.perf_counter()
                segments = None
                try:
                    segments, info = self._decode(audio, options, stop, ramp, clock)
                    told = info.language
                    put(("info", told))
                    for s in segments:
                        if info.language != told:  # a batched file's language is known after its first batch
                            told = info.language
                            put(("info", told))
                        if not put(("segment", s)):
                            break
                except Exception as exc:  # noqa: BLE001 - handed to the consumer
                    put(("error", exc))
                finally:
                    # In the lane: a decode left early lets go of its workers.
                    if segments is not None and hasattr(segments, "close"):
                        segments.close()
                    if clock is not None:  # before "done": the reader sees it when it sees the end
                        clock.seconds += time.perf_counter() - began - waited[0]
                    put((done, None))

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
                # float(): the batched pipeline gives numpy scalars
                words = [Word(float(w.start) + offset, float(w.end) + offset, w.word, float(w.probability))
                         for w in (s.words or [])]
                yield Segment(float(s.start) + offset, float(s.end) + offset, s.text.strip(), words,
                              decode=self._stats(s, offset))
                yield TranscriptProgress(min(1.0, s.end / duration) if duration else 1.0, s.end + offset, None,
                                         language)
        finally:
            stop.set()

    def _stats(self, s, offset: float) -> DecodeStats:
        """The decoder's figures for a segment; a cue cut from a piece has its text's own tokens."""
        source = getattr(s, "piece", None) or s
        tokens = list(getattr(source, "tokens", None) or [])
        if not getattr(s, "whole", True):
            try:
                tokens = self.model.hf_tokenizer.encode(" " + s.text.strip(), add_special_tokens=False).ids
            except Exception:  # noqa: BLE001 - figures for a client, never worth a transcript
                tokens = []

        def number(name: str) -> float:
            value = getattr(source, name, None)
            return float(value) if value is not None else 0.0

        seek = getattr(source, "seek", None)
        return DecodeStats(int(seek) if seek is not None else int(round((float(s.start) + offset) * 100)),
                           [int(t) for t in tokens], number("temperature"), number("avg_logprob"),
                           number("compression_ratio"), number("no_speech_prob"))

    def transcribe(
        self, path: Path, options: TranscribeOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[Segment | TranscriptProgress]:
        """Yields segments and progress for a file, chunk by chunk (bounded memory)."""
        options = options or TranscribeOptions()
        cancel = cancel or CancelToken()
        info = probe(path)
        total = info.duration_s
        offset = 0.0
        clock = DecodeClock(sequential_runs=self._lanes.sequential_runs[0])
        for chunk in iter_chunks(path):
            cancel.raise_if_cancelled()
            spoke, language = False, None
            for item in self.transcribe_array(chunk, options, cancel, offset, ramp=offset == 0, clock=clock):
                if isinstance(item, TranscriptProgress):
                    item.duration_s = total
                    item.fraction = min(1.0, item.seconds_done / total) if total else item.fraction
                    language = item.language
                else:
                    spoke = True
                yield item
            if options.language is None and spoke and language:
                # Detected once, from speech: later chunks keep it and skip the detection.
                options = dataclasses.replace(options, language=language)
            offset += chunk.size / SAMPLE_RATE
        self._measured(clock, offset, options)
        yield TranscriptProgress(1.0, offset, total)

    def _measured(self, clock: DecodeClock, audio_s: float, options: TranscribeOptions) -> None:
        """A whole file's decode time, to calibrate speed estimates. Not when dictation decoded in the
        other lane meanwhile (the two shared the CPU), nor for the sequential path files rarely take,
        nor for a file that is mostly silence (the VAD skips it: its real-time factor flatters)."""
        lanes_shared = self._lanes.sequential_runs[0] != clock.sequential_runs or self._lanes.sequential.locked()
        if (self.on_measured is None or lanes_shared or not (options.batched and options.vad_filter)
                or clock.speech_s < audio_s / 2):
            return
        try:
            self.on_measured(clock.seconds, audio_s, self.choice.device)
        except Exception:  # noqa: BLE001 - a calibration is never worth a transcript
            log.exception("could not record the speech speed")


def transcribe_all(transcriber: Transcriber, path: Path, options=None, cancel=None) -> list[Segment]:
    return [s for s in transcriber.transcribe(path, options, cancel) if isinstance(s, Segment)]


__all__ = [
    "Cancelled", "DecodeStats", "InputError", "Segment", "TranscribeOptions", "Transcriber", "TranscriptProgress",
    "Word", "transcribe_all",
]
