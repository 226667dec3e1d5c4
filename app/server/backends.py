"""What the HTTP layer asks of the engines, one small interface per kind, and the
standalone implementation `serve` uses.

Every call returns a ``concurrent.futures.Future`` and runs on the worker that owns
the model: one serial worker per loaded model (app/ARCHITECTURE.md, Threads), so concurrent
requests queue behind each other and a model is never loaded twice. The window's
Server switch can implement the same interface on the GUI's own workers, so a
request and a GUI turn share one loaded model.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.core.jobs import CancelToken, InputError, ModelError

if TYPE_CHECKING:
    from app.core.chat.events import StreamEvent
    from app.core.chat.protocol import ChatEngineProtocol
    from app.core.images.index import ImageIndex

log = logging.getLogger(__name__)


class UnknownModel(InputError):  # noqa: N818 - an answer, like FileNotFoundError
    def __init__(self, model: str, kind: str, available: list[str]):
        have = ", ".join(available) or "none installed"
        if model:
            super().__init__(f"the model '{model}' does not exist or is not a {kind} model (installed: {have})")
        else:
            super().__init__(f"no {kind} model is installed")
        self.model = model


@dataclass
class ModelInfo:
    id: str
    kind: str
    created: int = 0


@dataclass
class Transcript:
    segments: list = field(default_factory=list)  # app.core.speech.transcriber.Segment
    language: str | None = None
    duration_s: float | None = None


class Backends(Protocol):
    def models(self) -> list[ModelInfo]: ...

    def resolve(self, model: str | None, kind: str) -> str:
        """The installed model id a request names (None: the default), or UnknownModel."""

    def chat(self, model: str, messages: list, params, cancel: CancelToken,
             emit: Callable[[StreamEvent], None]) -> Future:
        """Streams a reply: emit(event) for each of the engine's events (app/core/chat/events.py), on the
        model's worker."""

    def tool_style(self, model: str) -> str:
        """The tool-call family of the model's own template: "hermes", "llama3" or "" (words)."""
        ...

    def picture_side(self, model: str) -> int | None:
        """The side pictures are shrunk to for this chat model's projector; None: the model does not see."""

    def transcribe(self, model: str, path: Path, options, cancel: CancelToken) -> Future: ...

    def embed(self, model: str, texts: list[str], images: list[Path], budget=None) -> Future:
        """(text vectors, image vectors) as numpy arrays; budget: the request's for decoding its pictures."""

    def search(self, model: str, text: str, images: list[Path], top: int, threshold: float | None,
               budget=None, filters=None) -> Future:
        """A list of app.core.images.index.Hit; filters: an app.core.images.filters.Filters, or None."""

    def kind_of(self, model: str) -> str | None:
        """The kind of an installed model id (None: no such model)."""

    def embed_text(self, model: str, texts: list[str], cancel: CancelToken) -> Future:
        """(vectors (n, d) float32 L2-normalised, prompt tokens) from a text-embedding model."""

    def label_speakers(self, segments: list, path: Path, num_speakers: int | None, cancel: CancelToken) -> Future:
        """The segments with speakers (app.core.speech.diarize), by the default speaker model."""

    def close(self) -> None: ...


class ModelWorker:
    """One thread that owns one model: loads it on first use and runs jobs one at a time."""

    def __init__(self, name: str, load: Callable[[], object]):
        self.name = name
        self._load = load
        self.model: object | None = None
        self.loads = 0
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"serve-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, *args) -> Future:
        fut: Future = Future()
        self._jobs.put((fut, fn, args))
        return fut

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                break
            fut, fn, args = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                if self.model is None:
                    self.model = self._load()
                    self.loads += 1
                fut.set_result(fn(self.model, *args))
            except BaseException as exc:  # noqa: BLE001 - handed to the request that asked
                fut.set_exception(exc)
        close = getattr(self.model, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing on the way out
                log.exception("closing %s", self.name)

    def close(self, timeout: float = 10) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)


class LocalBackends:
    """The core engines on per-model workers, for `python -m app serve`."""

    def __init__(self, store=None, n_ctx: int = 4096):
        from app.core.models.store import ModelStore

        self.store = store or ModelStore()
        self.n_ctx = n_ctx
        self._workers: dict[str, ModelWorker] = {}
        self._lock = threading.Lock()

    # --- models ---------------------------------------------------------------------
    def models(self) -> list[ModelInfo]:
        return [ModelInfo(e.id, e.kind, int(e.added or 0)) for e in self.store.list()]

    def resolve(self, model: str | None, kind: str) -> str:
        """Only ids in the store: a request never names a file."""
        if not model:
            try:
                return self.store.default_for(kind)
            except ModelError:
                raise UnknownModel("", kind, []) from None
        entry = self.store.get(model) if isinstance(model, str) else None
        if entry is None or entry.kind != kind:
            raise UnknownModel(str(model)[:200], kind, [e.id for e in self.store.list(kind)])
        return entry.id

    def _entry(self, model_id: str, kind: str):
        entry = self.store.get(model_id)
        if entry is None or entry.kind != kind:
            raise UnknownModel(model_id, kind, [e.id for e in self.store.list(kind)])
        path = self.store.path_of(entry)
        if not path.exists():
            raise ModelError(f"the files of {model_id} are missing from {path}")
        return entry, path

    def worker(self, model_id: str, kind: str) -> ModelWorker:
        with self._lock:
            w = self._workers.get(model_id)
            if w is None:
                entry, path = self._entry(model_id, kind)
                w = self._workers[model_id] = ModelWorker(model_id, lambda: self._load(entry, path))
            return w

    def _load(self, entry, path: Path):
        from app.core import opening

        if entry.kind == "chat":
            from app.core.chat.engine import LoadOptions

            return opening.open_chat(entry.id, LoadOptions(n_ctx=self.n_ctx), self.store)
        if entry.kind == "speech":
            return opening.open_transcriber(entry.id, self.store)
        if entry.kind == "embedding":
            return opening.open_embedder(entry.id, self.store)
        if entry.kind == "speaker":
            return opening.open_voices(entry.id, self.store, shared=False)
        return _Images(*opening.open_encoder(entry.id, store=self.store))

    def tool_style(self, model: str) -> str:
        """The tool-call family of a stored chat model's own template ("" for words; tool_format.py)."""
        from app.core.chat.templates import template_style

        entry = self.store.get(model)
        if entry is None or entry.kind != "chat":
            return ""
        return template_style(self.store.path_of(entry))

    def picture_side(self, model: str) -> int | None:
        from app.core.chat.pictures import side_for_projector

        entry = self.store.get(model)
        if entry is None or entry.kind != "chat" or not entry.projector:
            return None
        return side_for_projector(self.store.projector_of(entry))

    # --- work -----------------------------------------------------------------------
    def chat(self, model, messages, params, cancel, emit) -> Future:
        return self.worker(model, "chat").submit(run_chat, model, messages, params, cancel, emit)

    def transcribe(self, model, path, options, cancel) -> Future:
        return self.worker(model, "speech").submit(run_transcribe, path, options, cancel)

    def embed(self, model, texts, images, budget=None) -> Future:
        return self.worker(model, "images").submit(lambda m: embed_with(m.encoder, texts, images, budget))

    def search(self, model, text, images, top, threshold, budget=None, filters=None) -> Future:
        return self.worker(model, "images").submit(lambda m: m.search(text, images, top, threshold, budget,
                                                                      filters))

    def kind_of(self, model: str) -> str | None:
        entry = self.store.get(model)
        return entry.kind if entry is not None else None

    def embed_text(self, model, texts, cancel) -> Future:
        return self.worker(model, "embedding").submit(run_embed_text, texts, cancel)

    def label_speakers(self, segments, path, num_speakers, cancel) -> Future:
        model = self.store.default_for("speaker")  # none installed: ModelError, in words
        return self.worker(model, "speaker").submit(run_diarize, segments, path, num_speakers, cancel)

    def loaded(self) -> dict[str, int]:
        """How many times each model was loaded (one each, once used)."""
        return {k: w.loads for k, w in self._workers.items()}

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.close()


# --- the jobs, on whichever worker owns the model (this module's or the window's) -------------


def run_chat(engine: ChatEngineProtocol, model: str, messages, params, cancel: CancelToken,
             emit: Callable[[StreamEvent], None]) -> None:
    if cancel.cancelled:  # its client left while it queued
        from app.core.chat.events import ChatStats

        emit(ChatStats(model=model, stop_reason="cancelled"))
        return
    for event in engine.stream(messages, params, cancel):
        emit(event)


def run_transcribe(transcriber, path: Path, options, cancel: CancelToken) -> Transcript:
    from app.core.speech.transcriber import Segment, TranscriptProgress

    out = Transcript()
    for item in transcriber.transcribe(path, options, cancel):
        if isinstance(item, Segment):
            out.segments.append(item)
        elif isinstance(item, TranscriptProgress):
            out.language = item.language or out.language
            out.duration_s = item.duration_s or out.duration_s
    return out


def run_diarize(encoder, segments: list, path: Path, num_speakers: int | None, cancel: CancelToken) -> list:
    from app.core.speech.diarize import diarize

    return diarize(list(segments), encoder, num_speakers, path=path, cancel=cancel)


def run_embed_text(embedder, texts: list[str], cancel: CancelToken):
    vectors = embedder.embed(texts, cancel)
    return vectors, embedder.last.tokens


def _pictures(encoder, images: list[Path], budget=None):
    from app.core.images.scan import SkipImage, open_image

    out = []
    for i, p in enumerate(images):
        try:
            out.append(open_image(str(p), encoder.image_size, budget))
        except SkipImage as exc:
            raise InputError(f"image {i + 1}: {exc}") from None
    return out


def embed_with(encoder, texts: list[str], images: list[Path], budget=None):
    import numpy as np

    tv = encoder.embed_text(texts) if texts else np.zeros((0, 0), np.float32)
    iv = encoder.embed_pil(_pictures(encoder, images, budget)) if images else np.zeros((0, 0), np.float32)
    return tv, iv


def search_with(encoder, key: str, index, text: str, images: list[Path], top: int, threshold: float | None,
                budget=None, filters=None):
    from app.core.images.query import search_photos

    pictures = _pictures(encoder, images, budget) if images else []
    return search_photos(index, encoder, key, text or "", pictures=pictures, top=top, threshold=threshold,
                         filters=filters)


class _Images:
    """An image encoder and the photo index it searches, owned by one worker."""

    def __init__(self, encoder, key: str):
        self.encoder, self.key = encoder, key
        self._index: ImageIndex | None = None

    def search(self, text: str, images: list[Path], top: int, threshold: float | None, budget=None, filters=None):
        from app.core.images.index import ImageIndex

        if self._index is None:
            self._index = ImageIndex()
        return search_with(self.encoder, self.key, self._index, text, images, top, threshold, budget, filters)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
