"""The document index: SQLite holds folders, files, chunks with their place, an FTS5 keyword index and
the chunks' vectors (float16, under the embedding model's key); search fuses the two rankings.

Incremental: a file whose size, mtime and model are unchanged is not touched; a changed file is read
again; a removed file's chunks leave. A file renamed or moved, or only touched, keeps its chunks and
vectors when its content hash is unchanged. Each file is committed on its own, so a run that is killed
loses nothing already indexed and the next run goes on with the rest. Vectors are filed under their
model's key (its id, width and file): a run with another model embeds everything again, and search
reads only the query model's vectors, so two models' vectors never mix.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.db import DamagedDatabaseError, is_damage, open_db, schema_differences, set_aside
from app.core.docs.chunks import chunk
from app.core.docs.extract import (
    HTML_SUFFIXES,
    MARKDOWN_SUFFIXES,
    TEXT_SUFFIXES,
    ZIP_SUFFIXES,
    Skipped,
    extract_bytes,
)
from app.core.docs.fusion import embed_as, fts_query, query_words, rrf
from app.core.docs.guard import read_bytes
from app.core.docs.model import Limits, UnreadableDocument
from app.core.jobs import CancelToken

log = logging.getLogger(__name__)
SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | set(ZIP_SUFFIXES) | {".pdf"}
CHUNK_TOKENS = 200  # all-MiniLM was trained on 256 word pieces; room for the markers
OVERLAP_TOKENS = 32
CANDIDATES = 50  # each ranking's top-k before fusion
# Vectors are stored as float16: half the bytes, and unit vectors' cosines move by ~1e-3 at most (bench.py
# docs checks the top 10 at 100,000 chunks against float32); search reads them back as one float32 matrix.
VECTOR_DTYPE = np.float16
# A word in more than this share of the chunks ("the", "is") is left out of the keyword query: it ranks
# nothing (bm25 gives it almost no weight) but makes FTS5 score every chunk that holds it, 100+ ms at
# 100,000 chunks. Below COMMON_FLOOR chunks every word is kept; scoring them all is cheap there.
COMMON_SHARE = 0.1
COMMON_FLOOR = 1000


@dataclass
class DocHit:
    path: str
    score: float
    text: str
    page: int | None
    heading: str
    start: int
    end: int


@dataclass
class DocProgress:
    done: int
    total: int
    chunks: int  # embedded so far this run
    current: str = ""


@dataclass
class DocSummary:
    indexed: int = 0
    unchanged: int = 0  # renamed and touched files whose content is the same count here too
    removed: int = 0
    moved: int = 0  # renamed or moved with the same content: their vectors kept
    chunks: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason, this run's
    missing_folders: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    set_aside: str = ""  # the damaged index this run found, set aside (kept) before it built a new one


class DocsIndexDamagedError(DamagedDatabaseError):
    pass


def default_path() -> Path:
    return paths.db_dir() / "docs.sqlite3"


def model_key(embedder) -> str:
    """Vectors are comparable only with their own model's: a model change re-embeds. The file's
    fingerprint is part of it, so another file under the same id or name is another model."""
    fingerprint = getattr(embedder, "fingerprint", "")
    key = f"{embedder.model_id}:{embedder.dimensions}" + (f":{fingerprint}" if fingerprint else "")
    prefix = getattr(embedder, "document_prefix", "")  # passages embedded after another prefix are other vectors
    return key + (f":{hashlib.sha256(prefix.encode()).hexdigest()[:8]}" if prefix else "")


def model_id_of(key: str) -> str:
    """The model id a key of model_key's starts with (ids hold no colon; width, file and prefix follow)."""
    return key.partition(":")[0]


def content_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _v0_to_v1(db: sqlite3.Connection) -> None:
    for sql in (
        "CREATE TABLE folders (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL)",
        "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, folder_id INTEGER NOT NULL"
        " REFERENCES folders(id) ON DELETE CASCADE, size INTEGER NOT NULL, mtime REAL NOT NULL, model TEXT NOT NULL"
        " DEFAULT '', status TEXT NOT NULL DEFAULT 'ok', reason TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX files_by_folder ON files(folder_id)",
        "CREATE TABLE chunks (id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE"
        " CASCADE, idx INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, heading TEXT NOT NULL DEFAULT '',"
        " start INTEGER NOT NULL, end INTEGER NOT NULL, model TEXT NOT NULL, vec BLOB NOT NULL)",
        "CREATE INDEX chunks_by_file ON chunks(file_id)",
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id')",
        "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
        " INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END",
        "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
        " INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    ):
        db.execute(sql)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    # the content's SHA-256: a renamed or touched file with the same content keeps its vectors
    db.execute("ALTER TABLE files ADD COLUMN hash TEXT NOT NULL DEFAULT ''")


MIGRATIONS = [_v0_to_v1, _v1_to_v2]


@contextlib.contextmanager
def _damage_named(path: Path):
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise DocsIndexDamagedError(f"the document index ({path}) is damaged: {exc}", path) from exc
        raise


def _guarded(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with _damage_named(self.path):
            return method(self, *args, **kwargs)

    return call


def _folder_key(folder: str | Path) -> str:
    return str(Path(folder).expanduser().resolve())


def _hash_or_empty(path: str) -> str:
    try:
        return content_hash(path)
    except OSError:
        return ""


def scan(folder: Path) -> dict[str, tuple[int, float]]:
    """Document files under folder (hidden ones and links left out): path -> (size, mtime)."""
    found: dict[str, tuple[int, float]] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            found[full] = (st.st_size, st.st_mtime)
    return found


def _decode(blobs: list[bytes], dims: int) -> np.ndarray:
    """Stored vectors as one float32 matrix: float16 ones (VECTOR_DTYPE) and float32 ones written before."""
    if not blobs:
        return np.zeros((0, dims), np.float32)
    sizes = {len(b) for b in blobs}
    if sizes == {dims * 2}:
        return np.frombuffer(b"".join(blobs), np.float16).reshape(len(blobs), dims).astype(np.float32)
    if sizes == {dims * 4}:
        return np.frombuffer(b"".join(blobs), np.float32).reshape(len(blobs), dims)
    return np.stack([np.frombuffer(b, np.float16 if len(b) == dims * 2 else np.float32) for b in blobs]).astype(
        np.float32)


class DocsIndex:
    def __init__(self, path: Path | None = None, limits: Limits | None = None):
        self.path = Path(path) if path else default_path()
        self.limits = limits or Limits()
        try:
            self.store = open_db(self.path, MIGRATIONS, "the document index", newer="refuse")
        except DamagedDatabaseError as exc:
            raise DocsIndexDamagedError(str(exc), self.path) from exc
        self.db = self.store.conn
        try:
            with _damage_named(self.path):
                odd = schema_differences(self.db, MIGRATIONS)
        except BaseException:
            self.store.close()
            raise
        if odd:
            self.store.close()
            raise DocsIndexDamagedError(f"the document index ({self.path}) is damaged: it is not as Hearth writes"
                                        f" it ({'; '.join(odd[:3])})", self.path)
        self._matrix: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._common: dict[str, bool] = {}
        self._chunk_count: int | None = None
        self._state: tuple[int, int] | None = None

    set_aside_as: Path | None = None  # where rebuild() put the damaged file

    @classmethod
    def rebuild(cls, path: Path | None = None, limits: Limits | None = None) -> DocsIndex:
        """Sets a damaged index aside (kept) and starts a new one with the folders the old one still names."""
        path = Path(path) if path else default_path()
        folders: list[tuple] = []
        try:
            old = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                folders = old.execute("SELECT path FROM folders").fetchall()
            finally:
                old.close()
        except sqlite3.Error as exc:
            log.warning("no folder list could be read from the damaged document index: %s", exc)
        aside = set_aside(path)
        index = cls(path, limits)
        index.set_aside_as = aside
        for (folder,) in folders:
            with contextlib.suppress(sqlite3.Error):
                index.db.execute("INSERT OR IGNORE INTO folders (path) VALUES (?)", (folder,))
        return index

    @classmethod
    def open_or_rebuild(cls, path: Path | None = None) -> DocsIndex:
        """Like the other indexes: a damaged one is set aside and rebuilt, said in the log."""
        try:
            return cls(path)
        except DocsIndexDamagedError as exc:
            log.warning("%s; setting it aside and building a new one", exc)
            return cls.rebuild(path)

    def close(self) -> None:
        self.store.close()

    # --- folders -----------------------------------------------------------------------
    def add_folder(self, folder: str | Path) -> str:
        key = _folder_key(folder)
        self.db.execute("INSERT OR IGNORE INTO folders (path) VALUES (?)", (key,))
        return key

    def remove_folder(self, folder: str | Path) -> bool:
        cur = self.db.execute("DELETE FROM folders WHERE path = ?", (_folder_key(folder),))
        return cur.rowcount > 0

    @_guarded
    def folders(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT f.path, (SELECT COUNT(*) FROM files WHERE folder_id = f.id AND status = 'ok'),"
            " (SELECT COUNT(*) FROM chunks c JOIN files x ON x.id = c.file_id WHERE x.folder_id = f.id),"
            " (SELECT COUNT(*) FROM files WHERE folder_id = f.id AND status = 'skipped')"
            " FROM folders f ORDER BY f.path").fetchall()
        return [{"path": p, "files": n, "chunks": c, "skipped": s} for p, n, c, s in rows]

    @_guarded
    def skipped(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, reason FROM files WHERE status = 'skipped' ORDER BY path").fetchall()

    # --- indexing ------------------------------------------------------------------------
    def index(self, embedder, cancel: CancelToken | None = None) -> Iterator[DocProgress | DocSummary]:
        """Damage found on the way (a page the opening checks did not read) sets the index aside and
        builds it again, once, from the folders it still names, as opening a damaged one does."""
        cancel = cancel or CancelToken()
        try:
            with _damage_named(self.path):
                yield from self._index(embedder, cancel)
            return
        except DocsIndexDamagedError as exc:
            log.warning("%s; setting it aside and building a new one", exc)
            aside = self._rebuild_here()
        with _damage_named(self.path):
            for item in self._index(embedder, cancel):
                if isinstance(item, DocSummary):
                    item.set_aside = str(aside)
                yield item

    def _rebuild_here(self) -> Path | None:
        self.store.close()
        fresh = type(self).rebuild(self.path, self.limits)
        self.store, self.db, self._matrix = fresh.store, fresh.db, {}
        return fresh.set_aside_as

    def _index(self, embedder, cancel: CancelToken) -> Iterator[DocProgress | DocSummary]:
        started = time.monotonic()
        key = model_key(embedder)
        summary = DocSummary()
        todo = self._plan(key, summary)
        budget = max(16, min(CHUNK_TOKENS, getattr(embedder, "n_ctx", CHUNK_TOKENS) - 8))
        for done, (path, folder_id, size, mtime) in enumerate(todo, start=1):
            cancel.raise_if_cancelled()
            item, digest = self._read(path)
            if isinstance(item, Skipped):
                self._store_skipped(path, folder_id, size, mtime, item.reason)
                summary.skipped[path] = item.reason
            else:
                pieces = chunk(item, budget, OVERLAP_TOKENS, embedder.tokens)
                began = time.perf_counter()
                vecs = embed_as(embedder, [p.text for p in pieces], "documents", cancel)
                summary.embed_seconds += time.perf_counter() - began
                self._store(path, folder_id, size, mtime, key, pieces, vecs, digest)
                summary.indexed += 1
                summary.chunks += len(pieces)
            yield DocProgress(done, len(todo), summary.chunks, os.path.basename(path))
        summary.seconds = time.monotonic() - started
        yield summary

    def _read(self, path: str):
        """(the document or why it was skipped, the SHA-256 of the very bytes read): a file saved again while
        it is embedded is not filed under its new content's hash (the next run would take it as touched)."""
        try:
            data = read_bytes(Path(path), self.limits)
            return extract_bytes(data, path, self.limits), hashlib.sha256(data).hexdigest()
        except UnreadableDocument as exc:
            return Skipped(Path(path), exc.reason), ""
        except OSError as exc:
            return Skipped(Path(path), f"could not be read ({exc.strerror or exc})"), ""
        except Exception:  # noqa: BLE001 - one hostile file never stops the rest
            log.warning("document skipped: %s", path, exc_info=True)
            return Skipped(Path(path), "could not be read (an unexpected error: see the log)"), ""

    def _plan(self, key: str, summary: DocSummary) -> list[tuple[str, int, int, float]]:
        """Scans each folder; keeps the vectors of what was renamed or touched; removes what left;
        returns (path, folder id, size, mtime) to read."""
        todo, gone = [], {}
        for folder_id, folder in self.db.execute("SELECT id, path FROM folders ORDER BY path").fetchall():
            if not os.path.isdir(folder):  # an unplugged drive: its entries are kept
                summary.missing_folders.append(folder)
                continue
            found = scan(Path(folder))
            known = {p: (i, s, m, mk, st, h) for i, p, s, m, mk, st, h in self.db.execute(
                "SELECT id, path, size, mtime, model, status, hash FROM files WHERE folder_id = ?", (folder_id,))}
            gone.update({p: row for p, row in known.items() if p not in found})
            for path, (size, mtime) in sorted(found.items()):
                old = known.get(path)
                if old and old[1] == size and old[2] == mtime and (old[4] == "skipped" or old[3] == key):
                    summary.unchanged += 1
                elif old and old[1] == size and old[3] == key and old[4] == "ok" and old[5] \
                        and _hash_or_empty(path) == old[5]:  # touched, not changed
                    with self.store.transaction():
                        self.db.execute("UPDATE files SET mtime = ? WHERE id = ?", (mtime, old[0]))
                    summary.unchanged += 1
                else:
                    todo.append((path, folder_id, size, mtime))
        todo = self._moves(todo, gone, key, summary)
        if gone:
            with self.store.transaction():
                self.db.executemany("DELETE FROM files WHERE id = ?", [(row[0],) for row in gone.values()])
            summary.removed += len(gone)
        return todo

    def _moves(self, todo: list, gone: dict, key: str, summary: DocSummary) -> list:
        """A new path with the content of one that left (same size, then same hash, same model) takes over
        its row, chunks and vectors; returns the rest of todo. Only files of a size that left are hashed."""
        sizes = {row[1] for row in gone.values() if row[3] == key and row[4] == "ok" and row[5]}
        rest = []
        for path, folder_id, size, mtime in todo:
            match = None
            if size in sizes and path not in gone:
                digest = _hash_or_empty(path)
                match = next((p for p, row in gone.items() if digest and row[1] == size and row[3] == key
                              and row[4] == "ok" and row[5] == digest), None)
            if match is None:
                rest.append((path, folder_id, size, mtime))
                continue
            row = gone.pop(match)
            with self.store.transaction():
                self.db.execute("DELETE FROM files WHERE path = ?", (path,))  # an older entry of the new name
                self.db.execute("UPDATE files SET path = ?, folder_id = ?, mtime = ? WHERE id = ?",
                                (path, folder_id, mtime, row[0]))
            summary.moved += 1
            summary.unchanged += 1
        return rest

    def _upsert(self, path, folder_id, size, mtime, model, status, reason, digest: str = "") -> int:
        self.db.execute(
            "INSERT INTO files (path, folder_id, size, mtime, model, status, reason, hash) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET folder_id=excluded.folder_id, size=excluded.size,"
            " mtime=excluded.mtime, model=excluded.model, status=excluded.status, reason=excluded.reason,"
            " hash=excluded.hash",
            (path, folder_id, size, mtime, model, status, reason, digest))
        file_id = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()[0]
        self.db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        return file_id

    def _store_skipped(self, path, folder_id, size, mtime, reason) -> None:
        with self.store.transaction():
            self._upsert(path, folder_id, size, mtime, "", "skipped", reason)

    def _store(self, path, folder_id, size, mtime, key, pieces, vecs, digest: str = "") -> None:
        with self.store.transaction():
            file_id = self._upsert(path, folder_id, size, mtime, key, "ok", "", digest)
            self.db.executemany(
                "INSERT INTO chunks (file_id, idx, text, page, heading, start, end, model, vec)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(file_id, c.index, c.text, c.page, " > ".join(c.heading_path), c.start, c.end, key,
                  np.asarray(v, VECTOR_DTYPE).tobytes()) for c, v in zip(pieces, vecs, strict=True)])

    # --- search --------------------------------------------------------------------------
    def _fresh(self) -> None:
        """Drops what search keeps in memory once the tables changed: through this connection (total_changes)
        or another one, a watcher's or the CLI's (data_version)."""
        state = (self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes)
        if state != self._state:
            self._state = state
            self._matrix.clear()
            self._common.clear()
            self._chunk_count = None

    def _vectors(self, key: str, dims: int) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of the model as one float32 matrix, read once until the index changes."""
        self._fresh()
        if key not in self._matrix:
            rows = self.db.execute("SELECT id, vec FROM chunks WHERE model = ? ORDER BY id", (key,)).fetchall()
            mat = _decode([r[1] for r in rows], dims)
            self._matrix[key] = (mat, np.array([r[0] for r in rows], np.int64))
        return self._matrix[key]

    def _is_common(self, word: str) -> bool:
        if self._chunk_count is None:
            self._chunk_count = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        limit = max(COMMON_FLOOR, int(self._chunk_count * COMMON_SHARE))
        if self._chunk_count <= limit:
            return False
        if word not in self._common:  # counts no further than the limit: a fraction of a millisecond
            self._common[word] = self.db.execute(
                "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                (fts_query(word), limit + 1)).fetchone()[0] > limit
        return self._common[word]

    def keyword_ids(self, query: str, k: int = CANDIDATES) -> list[int]:
        self._fresh()
        match = fts_query(" ".join(w for w in query_words(query) if not self._is_common(w)))
        if not match:
            return []
        return [r[0] for r in self.db.execute(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?", (match, k))]

    def vector_ids(self, query: str, embedder, k: int = CANDIDATES) -> list[int]:
        vector = embed_as(embedder, [query], "queries")[0]
        mat, ids = self._vectors(model_key(embedder), vector.size)
        if mat.shape[0] == 0:
            return []
        # einsum, not BLAS's matmul: OpenBLAS's threads spin on the cores ~0.1 s after each call, and the next
        # query's embedding (llama.cpp's own threads) ran 8x slower beside them (bench.py docs).
        scores = np.einsum("ij,j->i", mat, vector.astype(np.float32, copy=False))
        k = min(k, scores.size)
        best = np.argpartition(-scores, k - 1)[:k]
        return [int(ids[i]) for i in best[np.argsort(-scores[best])]]

    @_guarded
    def search(self, query: str, embedder, limit: int = 10) -> list[DocHit]:
        if not query.strip():
            return []
        fused = rrf([self.keyword_ids(query), self.vector_ids(query, embedder)])[:max(0, limit)]
        if not fused:
            return []
        marks = ",".join("?" * len(fused))
        rows = {r[0]: r[1:] for r in self.db.execute(
            "SELECT c.id, f.path, c.text, c.page, c.heading, c.start, c.end FROM chunks c JOIN files f"
            f" ON f.id = c.file_id WHERE c.id IN ({marks})", [i for i, _ in fused])}
        return [DocHit(rows[i][0], score, *rows[i][1:]) for i, score in fused if i in rows]
