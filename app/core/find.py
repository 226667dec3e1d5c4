"""The one search: documents, transcripts, photos and chats at once, as typed hits grouped by kind.

The GUI's Ctrl+K box, ``hearth find``, the server and the chat's tools all call ``find``. A kind whose
index does not exist yet, or whose model is not installed, is left out and said in ``skipped`` (its
reason in words), never raised. Models are taken from an ``Engines`` the caller keeps (the GUI's worker
keeps one open between searches) or opened for the one call and closed after it.

Scores compare hits of one kind only: documents and transcripts carry a fused keyword and meaning rank
(reciprocal rank fusion), photos the CLIP cosine, chats their rank among the matches.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.jobs import CancelToken, HearthError

if TYPE_CHECKING:
    from app.core.images.filters import Filters

log = logging.getLogger(__name__)
KINDS = ("document", "transcript", "photo", "chat")
SNIPPET_CHARS = 240
CHAT_WORDS = 8  # words of a query searched one by one in chats when the whole text is in none


@dataclass(frozen=True)
class Location:
    """Where in its source a hit is; only the fields that apply to its kind are set."""

    page: int | None = None  # documents
    heading: str = ""
    char_start: int | None = None
    char_end: int | None = None
    start: float | None = None  # transcripts: seconds
    end: float | None = None
    taken: str | None = None  # photos: when, ISO 8601 (the file's time where the photo has no date)
    taken_source: str | None = None  # photos: "exif", or "file" (taken is the file's time, a fallback)
    place: str | None = None  # photos: where ("Lisbon, Portugal"), from the photo's GPS
    transcript_id: str | None = None
    conversation_id: int | None = None  # chats
    message_id: int | None = None


@dataclass(frozen=True)
class Hit:
    kind: str  # one of KINDS
    title: str
    path: str | None  # the file; None for a chat or a transcript (whose source may be a dictation)
    location: Location
    snippet: str
    score: float

    def to_json(self) -> dict:
        """The CLI's and the tools' shape: kind, title, path, score, text, and each place field that is known."""
        out: dict = {"kind": self.kind, "title": self.title, "path": self.path, "score": round(self.score, 6),
                     "text": self.snippet}
        where = asdict(self.location)
        out.update({k: v for k, v in where.items() if v not in (None, "")})
        return out


@dataclass
class FindResult:
    hits: list[Hit] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it was not searched

    def by_kind(self) -> dict[str, list[Hit]]:
        return {k: [h for h in self.hits if h.kind == k] for k in KINDS if any(h.kind == k for h in self.hits)}


class SkipKindError(Exception):
    """A kind that cannot be searched now; its message is the reason, in words."""


class Engines:
    """The models find uses, opened on first need and kept for the next call. Not thread-safe: the thread
    that owns it is the one that calls ``find`` with it and ``close`` (app/ARCHITECTURE.md, Threads)."""

    def __init__(self, embedder=None, encoder=None, embedding_model: str | None = None,
                 images_model: str | None = None, clip_opener: Callable[[], tuple] | None = None):
        """``embedder``/``encoder``: engines the caller already has open (it closes them). ``clip_opener``: how
        to get (CLIP encoder, key) from the caller when a photo search needs it (e.g. the Images pane's
        loaded model, on its own worker), so no photo index means no CLIP load. Anything else is opened
        here, by id or the kind's default, and closed by ``close``."""
        self.embedder = embedder  # a text-embedding engine (app.core.embeddings.engine.Embedder)
        self.encoder = encoder  # (CLIP encoder, its index key), as app.core.opening.open_encoder returns
        self.embedding_model, self.images_model = embedding_model, images_model
        self.clip_opener = clip_opener
        self._opened: list = []  # what this object opened, and so closes
        self.named = embedder is not None or embedding_model is not None  # the caller chose: kept

    def prefer_text_model(self, model_id: str) -> None:
        """The model an index's vectors were made with, where the caller named none: a text embedder this
        object opened for another model is closed, so the next search opens this one (kept Engines follow
        documents indexed again with another model)."""
        if self.named or model_id == self.embedding_model:
            return
        self.embedding_model = model_id
        held = self.embedder
        if held is not None and any(held is e for e in self._opened) and getattr(held, "model_id", None) != model_id:
            self._opened = [e for e in self._opened if e is not held]
            self.embedder = None
            held.close()

    def text_embedder(self):
        if self.embedder is None:
            from app.core.opening import open_embedder

            self.embedder = _opened_or_skip(lambda: open_embedder(self.embedding_model), "text-embedding")
            self._opened.append(self.embedder)
        return self.embedder

    def clip(self):
        if self.encoder is None and self.clip_opener is not None:
            self.encoder = _opened_or_skip(self.clip_opener, "photo search")
        elif self.encoder is None:
            from app.core.opening import open_encoder

            self.encoder = _opened_or_skip(lambda: open_encoder(self.images_model), "photo search")
            self._opened.append(self.encoder[0])
        return self.encoder

    def close(self) -> None:
        for engine in self._opened:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        self._opened.clear()
        self.embedder = self.encoder = None


def _opened_or_skip(open_model, what: str):
    try:
        return open_model()
    except HearthError as exc:
        raise SkipKindError(f"no {what} model could be opened: {exc}") from exc


def find(query: str, *, kinds: Iterable[str] | None = None, limit: int = 5, cancel: CancelToken | None = None,
         engines: Engines | None = None, photo_filters: Filters | None = None) -> FindResult:
    """Up to ``limit`` hits per kind, best first within each kind, in KINDS order. Photos are searched as
    the Images pane searches them: time and place words in the query ("last summer", "in Lisbon") are
    filters, and ``photo_filters`` (a date range, a place) win over them."""
    from app.core.jobs import InputError

    wanted = list(KINDS) if kinds is None else [k for k in KINDS if k in set(kinds)]
    unknown = set(kinds or ()) - set(KINDS)
    if unknown:
        raise InputError(f"no kind {', '.join(sorted(unknown))}: choose from {', '.join(KINDS)}")
    if not query.strip():
        raise InputError("type something to find")
    cancel = cancel or CancelToken()
    own = engines is None
    engines = engines or Engines()
    result = FindResult()
    searchers: dict[str, Callable[..., list[Hit]]] = {"document": _documents, "transcript": _transcripts,
                 "photo": functools.partial(_photos, filters=photo_filters), "chat": _chats}
    try:
        for kind in wanted:
            cancel.raise_if_cancelled()
            try:
                result.hits += searchers[kind](query, max(1, limit), engines, cancel)
            except SkipKindError as exc:
                result.skipped[kind] = str(exc)
            except HearthError as exc:  # a damaged index, a model that fails: this kind only
                log.warning("find: %s skipped: %s", kind, exc)
                result.skipped[kind] = str(exc)
            except sqlite3.DatabaseError as exc:  # a damaged file met outside the index's own guard
                log.warning("find: %s skipped: %s", kind, exc)
                result.skipped[kind] = f"its index could not be read ({exc})"
    finally:
        if own:
            engines.close()
    return result


def _snippet(text: str, near: int = 0) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    begin = max(0, min(near - SNIPPET_CHARS // 3, len(text) - SNIPPET_CHARS))
    return ("…" if begin else "") + text[begin : begin + SNIPPET_CHARS].strip() + "…"


# --- documents ---------------------------------------------------------------------------
def _documents(query: str, limit: int, engines: Engines, cancel: CancelToken) -> list[Hit]:
    from app.core.docs.index import DocsIndex, default_path

    if not default_path().exists():
        raise SkipKindError("no documents are indexed yet: add a folder in Documents")
    index = DocsIndex(default_path())
    try:
        if not index.db.execute("SELECT EXISTS (SELECT 1 FROM chunks)").fetchone()[0]:
            raise SkipKindError("no documents are indexed yet: add a folder in Documents")
        _prefer_index_model(index, engines)
        found = index.search(query, engines.text_embedder(), limit)
    finally:
        index.close()
    return [Hit("document", os.path.basename(h.path), h.path,
                Location(page=h.page, heading=h.heading, char_start=h.start, char_end=h.end),
                _snippet(h.text), h.score) for h in found]


def _prefer_index_model(index, engines: Engines) -> None:
    """Vectors compare only with their own model's: with none named, the model most of the documents
    are embedded with now is the one searched with (when it is still installed), not the default."""
    if engines.named:
        return
    row = index.db.execute("SELECT model FROM chunks GROUP BY model ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    from app.core.docs.index import model_id_of

    model_id = model_id_of(row[0]) if row and isinstance(row[0], str) else ""
    if model_id:
        from app.core.models.store import ModelStore

        if (entry := ModelStore().get(model_id)) is not None and entry.kind == "embedding":
            engines.prefer_text_model(model_id)


# --- transcripts -------------------------------------------------------------------------
def transcript_stamps(folder: Path) -> dict[str, str]:
    """Each saved transcript's id and a stamp that changes whenever its file does (size, mtime)."""
    from app.core.speech.transcripts import ID

    stamps = {}
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            st = path.stat()
        except OSError:
            continue
        if ID.match(path.stem):
            stamps[path.stem] = f"{st.st_size}:{st.st_mtime_ns}"
    return stamps


def sync_transcripts(index, embedder, cancel: CancelToken | None = None, store=None) -> int:
    """Brings the transcripts' index up to date with the saved transcripts: new and changed ones are
    embedded, deleted ones leave. Returns how many were (re)indexed."""
    from app.core.docs.index import model_key
    from app.core.docs.recordings import Line
    from app.core.speech.transcripts import TranscriptStore

    store = store or TranscriptStore()
    stamps = transcript_stamps(store.folder)
    key = model_key(embedder)
    todo, gone = index.stale(stamps, key)
    index.remove(gone)
    if not todo:
        return 0
    saved = {t.id: t for t in store.list()}  # sets a damaged file aside, as the Speech pane does
    for transcript_id in todo:
        if cancel is not None:
            cancel.raise_if_cancelled()
        t = saved.get(transcript_id)
        if t is None:  # set aside just now, or removed: not searchable
            index.remove([transcript_id])
            continue
        lines = [Line(s.start, s.end, s.text) for s in t.segments]
        index.put(t.id, t.source, stamps[transcript_id], key, lines, embedder, cancel)
    return len(todo)


def _transcripts(query: str, limit: int, engines: Engines, cancel: CancelToken) -> list[Hit]:
    from app.core.docs.index import model_key
    from app.core.docs.recordings import RecordingsIndex
    from app.core.speech.transcripts import TranscriptStore

    store = TranscriptStore()
    if not transcript_stamps(store.folder):
        raise SkipKindError("there are no transcripts yet: transcribe a recording in Speech")
    embedder = engines.text_embedder()
    index = RecordingsIndex.open_or_rebuild()
    try:
        sync_transcripts(index, embedder, cancel, store)
        found = index.search(query, embedder, model_key(embedder), limit)
    finally:
        index.close()
    return [Hit("transcript", h.title, None, Location(start=h.start, end=h.end, transcript_id=h.transcript_id),
                _snippet(h.text, h.offset), h.score) for h in found]


# --- photos ------------------------------------------------------------------------------
def _photos(query: str, limit: int, engines: Engines, cancel: CancelToken, filters: Filters | None = None) -> list[Hit]:
    from app.core.images.index import ImageIndex, default_path
    from app.core.images.query import search_photos

    if not default_path().exists():
        raise SkipKindError("no photos are indexed yet: add a folder in Images")
    index = ImageIndex(default_path())
    try:
        if not index.db.execute("SELECT EXISTS (SELECT 1 FROM embeddings)").fetchone()[0]:
            raise SkipKindError("no photos are indexed yet: add a folder in Images")
        encoder, key = engines.clip()
        if index.matrix(key)[0].shape[0] == 0:
            raise SkipKindError(f"no photos are indexed with {getattr(encoder, 'model_id', key)}: index them in Images")
        cancel.raise_if_cancelled()
        found = search_photos(index, encoder, key, query, top=limit, filters=filters)
    finally:
        index.close()
    return [Hit("photo", os.path.basename(h.path), h.path, Location(taken=h.taken, taken_source=h.taken_source,
                                                               place=h.place),
                "offline" if h.offline else "", h.score) for h in found]


# --- chats -------------------------------------------------------------------------------
def _chats(query: str, limit: int, engines: Engines, cancel: CancelToken) -> list[Hit]:
    from app.core.chat.history import ChatHistory, HistoryError, default_path

    if not default_path().exists():
        raise SkipKindError("there are no chats yet")
    try:
        history = ChatHistory(default_path())
    except HistoryError as exc:
        raise SkipKindError(str(exc)) from exc
    try:
        return _chat_hits(history, query.strip(), limit, cancel)
    finally:
        history.close()


def _chat_hits(history, query: str, limit: int, cancel: CancelToken | None = None) -> list[Hit]:
    """Chats holding the words as typed; else those holding most of its words (3 letters or more; the
    CHAT_WORDS longest, so a pasted paragraph is a few searches, not one per word)."""
    ids = [c.id for c in history.search(query, limit).conversations]
    words = [w for w in query.split() if len(w) >= 3]
    if not ids and len(words) > 1:
        counts: dict[int, int] = {}
        for word in sorted(dict.fromkeys(words), key=len, reverse=True)[:CHAT_WORDS]:
            if cancel is not None:
                cancel.raise_if_cancelled()
            for c in history.search(word, 50).conversations:
                counts[c.id] = counts.get(c.id, 0) + 1
        ids = sorted(counts, key=lambda i: -counts[i])[:limit]  # sorted is stable: newest first on a tie
    hits = []
    for rank, conversation_id in enumerate(ids[:limit], start=1):
        conv = history.conversation(conversation_id)
        message_id, text, at = None, conv.title, 0
        for m in history.messages(conversation_id):
            low = m.content.lower()
            at = low.find(query.lower())
            if at < 0 and words:
                at = next((p for p in (low.find(w.lower()) for w in words) if p >= 0), -1)
            if at >= 0:
                message_id, text = m.id, m.content
                break
        at = max(at, 0) if message_id is not None else 0
        hits.append(Hit("chat", conv.title, None, Location(conversation_id=conversation_id, message_id=message_id),
                        _snippet(text, at), 1.0 / (60 + rank)))
    return hits
