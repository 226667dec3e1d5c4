"""The transcripts' index: what was said in each recording, as passages with their times, searchable by
keyword (FTS5) and by meaning (the text-embedding model's vectors), fused like the document index.

It knows transcripts only as plain records (id, title, stamp, timed lines), so the docs engine needs no
speech import; the one search (app.core.find) hands them over. ``stale`` says which records changed
since they were indexed (their stamp or the model differs) and which are gone; each record is committed
on its own, so an interrupted sync loses nothing already done.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.db import DamagedDatabaseError, is_damage, open_db, schema_differences, set_aside
from app.core.docs.fusion import WORD, embed_as, fts_query, rrf

log = logging.getLogger(__name__)
PASSAGE_WORDS = 60  # consecutive lines joined up to about this many words: enough context for meaning
CANDIDATES = 50


@dataclass(frozen=True)
class Line:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Passage:
    start: float  # seconds: the first line's start
    end: float  # the last line's end
    text: str
    lines: tuple[tuple[float, float, int], ...] = ()  # each line's start, end and offset in text


def _passage(group: list[Line]) -> Passage:
    texts = [x.text.strip() for x in group]
    offsets = [sum(len(t) + 1 for t in texts[:i]) for i in range(len(texts))]
    return Passage(group[0].start, group[-1].end, " ".join(texts),
                   tuple((x.start, x.end, at) for x, at in zip(group, offsets, strict=True)))


def best_line(passage_lines, text: str, query: str) -> tuple[float, float, int]:
    """The line of a passage that shares most words with the query (the first on a tie): where a click opens."""
    words = {w for w in WORD.findall(query.lower()) if len(w) > 2}
    ends = [at for _s, _e, at in passage_lines[1:]] + [len(text)]

    def shared(i: int) -> int:
        return len(words & set(WORD.findall(text[passage_lines[i][2] : ends[i]].lower())))

    best = max(range(len(passage_lines)), key=lambda i: (shared(i), -i))
    return passage_lines[best]


@dataclass(frozen=True)
class RecordingHit:
    transcript_id: str
    title: str
    score: float
    text: str
    start: float  # the line that matches best, in seconds
    end: float
    offset: int  # that line's place in text


class RecordingsIndexDamagedError(DamagedDatabaseError):
    pass


def default_path() -> Path:
    return paths.db_dir() / "recordings.sqlite3"


def passages(lines: Sequence[Line], words: int = PASSAGE_WORDS) -> list[Passage]:
    """Consecutive lines joined until about ``words`` words; a passage never splits a line, so its times
    are its first and last lines' (a click opens the transcript at the first)."""
    out: list[Passage] = []
    group: list[Line] = []
    count = 0
    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        n = len(text.split())
        if group and count + n > words:
            out.append(_passage(group))
            group, count = [], 0
        group.append(line)
        count += n
    if group:
        out.append(_passage(group))
    return out


def _v0_to_v1(db: sqlite3.Connection) -> None:
    for sql in (
        "CREATE TABLE recordings (id TEXT PRIMARY KEY, title TEXT NOT NULL, stamp TEXT NOT NULL,"
        " model TEXT NOT NULL)",
        "CREATE TABLE passages (id INTEGER PRIMARY KEY, recording_id TEXT NOT NULL REFERENCES recordings(id)"
        " ON DELETE CASCADE, idx INTEGER NOT NULL, text TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,"
        " lines TEXT NOT NULL, vec BLOB NOT NULL)",
        "CREATE INDEX passages_by_recording ON passages(recording_id)",
        "CREATE VIRTUAL TABLE passages_fts USING fts5(text, content='passages', content_rowid='id')",
        "CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN"
        " INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text); END",
        "CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN"
        " INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    ):
        db.execute(sql)


MIGRATIONS = [_v0_to_v1]


class RecordingsIndex:
    """Not thread-safe: one worker owns it (app/ARCHITECTURE.md, Threads)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        try:
            self.store = open_db(self.path, MIGRATIONS, "the transcripts' index", newer="refuse")
        except DamagedDatabaseError as exc:
            raise RecordingsIndexDamagedError(str(exc), self.path) from exc
        self.db = self.store.conn
        try:
            odd = schema_differences(self.db, MIGRATIONS)
        except sqlite3.DatabaseError as exc:
            self.store.close()
            raise RecordingsIndexDamagedError(f"the transcripts' index ({self.path}) is damaged: {exc}",
                                              self.path) from exc
        if odd:
            self.store.close()
            raise RecordingsIndexDamagedError(f"the transcripts' index ({self.path}) is damaged: it is not as"
                                              f" Hearth writes it ({'; '.join(odd[:3])})", self.path)
        self._matrix: tuple[str, np.ndarray, np.ndarray] | None = None

    @classmethod
    def open_or_rebuild(cls, path: Path | None = None) -> RecordingsIndex:
        """A damaged index is set aside (kept) and a new one built: the transcripts themselves are the source."""
        try:
            return cls(path)
        except RecordingsIndexDamagedError as exc:
            log.warning("%s; setting it aside and building a new one", exc)
            set_aside(Path(path) if path else default_path())
            return cls(path)

    def close(self) -> None:
        self.store.close()

    def stale(self, stamps: dict[str, str], model: str) -> tuple[list[str], list[str]]:
        """(ids to index again: new, changed or embedded by another model; ids that are gone)."""
        known = {i: (s, m) for i, s, m in self.db.execute("SELECT id, stamp, model FROM recordings")}
        todo = [i for i, s in stamps.items() if known.get(i) != (s, model)]
        gone = [i for i in known if i not in stamps]
        return sorted(todo), sorted(gone)

    def remove(self, ids: Sequence[str]) -> None:
        if ids:
            with self.store.transaction():
                self.db.executemany("DELETE FROM recordings WHERE id = ?", [(i,) for i in ids])
            self._matrix = None

    def put(self, recording_id: str, title: str, stamp: str, model: str, lines: Sequence[Line], embedder,
            cancel=None) -> int:
        """Indexes one recording's lines (replacing what it had); returns its passage count."""
        pieces = passages(lines)
        vecs = (embed_as(embedder, [p.text for p in pieces], "documents", cancel) if pieces
                else np.zeros((0, 1), np.float32))
        with self.store.transaction():
            self.db.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
            self.db.execute("INSERT INTO recordings (id, title, stamp, model) VALUES (?,?,?,?)",
                            (recording_id, title, stamp, model))
            self.db.executemany(
                "INSERT INTO passages (recording_id, idx, text, start, end, lines, vec) VALUES (?,?,?,?,?,?,?)",
                [(recording_id, i, p.text, p.start, p.end, json.dumps(p.lines), np.asarray(v, np.float32).tobytes())
                 for i, (p, v) in enumerate(zip(pieces, vecs, strict=True))])
        self._matrix = None
        return len(pieces)

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def _vectors(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        if self._matrix is None or self._matrix[0] != model:
            rows = self.db.execute("SELECT p.id, p.vec FROM passages p JOIN recordings r ON r.id = p.recording_id"
                                   " WHERE r.model = ? ORDER BY p.id", (model,)).fetchall()
            mat = (np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1) if rows
                   else np.zeros((0, 1), np.float32))
            self._matrix = (model, mat, np.array([r[0] for r in rows], np.int64))
        return self._matrix[1], self._matrix[2]

    def search(self, query: str, embedder, model: str, limit: int = 10) -> list[RecordingHit]:
        if not query.strip():
            return []
        try:
            return self._search(query, embedder, model, limit)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise RecordingsIndexDamagedError(f"the transcripts' index ({self.path}) is damaged: {exc}",
                                                  self.path) from exc
            raise

    def _search(self, query: str, embedder, model: str, limit: int) -> list[RecordingHit]:
        keyword: list[int] = []
        if match := fts_query(query):
            keyword = [r[0] for r in self.db.execute(
                "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts) LIMIT ?",
                (match, CANDIDATES))]
        vector: list[int] = []
        mat, ids = self._vectors(model)
        if mat.shape[0]:
            scores = mat @ embed_as(embedder, [query], "queries")[0]
            k = min(CANDIDATES, scores.size)
            best = np.argpartition(-scores, k - 1)[:k]
            vector = [int(ids[i]) for i in best[np.argsort(-scores[best])]]
        fused = rrf([keyword, vector])[:max(0, limit)]
        if not fused:
            return []
        marks = ",".join("?" * len(fused))
        rows = {r[0]: r[1:] for r in self.db.execute(
            "SELECT p.id, p.recording_id, r.title, p.text, p.start, p.end, p.lines FROM passages p JOIN"
            f" recordings r ON r.id = p.recording_id WHERE p.id IN ({marks})", [i for i, _ in fused])}
        hits = []
        for i, score in fused:
            if i not in rows:
                continue
            recording_id, title, text, start, end, lines = rows[i]
            line = _line(lines, text, query) or (start, end, 0)
            hits.append(RecordingHit(recording_id, title, score, text, *line))
        return hits


def _line(lines_json: str, text: str, query: str) -> tuple[float, float, int] | None:
    try:
        lines = [(float(a), float(b), int(c)) for a, b, c in json.loads(lines_json)]
    except (ValueError, TypeError):  # a damaged row: the passage's own times
        return None
    return best_line(lines, text, query) if lines else None
