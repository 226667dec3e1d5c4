"""The photo index: SQLite for what is known, a float16 matrix for queries.

Incremental: a file whose size and mtime are unchanged is not touched; a
changed file is re-hashed and only re-embedded if its content changed;
deleted files leave; a folder that is missing (an unplugged drive) keeps its
entries, marked offline. Decoding runs in a thread pool ahead of the model's
batches, so the two overlap.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.images.scan import SkipImage, open_image, quick_hash, scan_folder
from app.core.jobs import CancelToken, InputError

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
BATCH = 32
SEARCH_CHUNK = 4096  # rows: the float32 scratch stays a few MB whatever the library size


@dataclass
class IndexProgress:
    done: int
    total: int
    embedded: int
    skipped: int
    rate: float  # images per second
    eta_s: float | None
    current: str = ""


@dataclass
class IndexSummary:
    scanned: int = 0
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0
    offline_folders: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0


@dataclass
class Hit:
    path: str
    score: float
    offline: bool = False


def decode_workers() -> int:
    """Threads for decoding: PIL releases the GIL, and a GPU model outruns a few threads."""
    return max(1, min(8, os.cpu_count() or 1))


def default_path() -> Path:
    return paths.db_dir() / "images.sqlite3"


def _migrate_v0(db: sqlite3.Connection) -> None:
    for sql in (
        "CREATE TABLE folders (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, exclude TEXT NOT NULL DEFAULT '',"
        " status TEXT NOT NULL DEFAULT 'ok')",
        "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, folder_id INTEGER NOT NULL"
        " REFERENCES folders(id) ON DELETE CASCADE, size INTEGER, mtime REAL, hash TEXT, status TEXT NOT NULL"
        " DEFAULT 'ok', reason TEXT NOT NULL DEFAULT '')",
        "CREATE TABLE embeddings (file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE, model TEXT NOT"
        " NULL, hash TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (file_id, model))",
        "CREATE INDEX files_by_folder ON files(folder_id)",
    ):
        db.execute(sql)


class ImageIndex:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError("the photo index was written by a newer Hearth; update Hearth to use it")
        self.db.execute("PRAGMA journal_mode = WAL")
        if version < 1:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                _migrate_v0(self.db)
                self.db.execute("PRAGMA user_version = 1")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        self._matrix: dict[str, tuple[np.ndarray, list[int]]] = {}

    def close(self) -> None:
        self.db.close()

    # --- folders -----------------------------------------------------------------------
    def add_folder(self, folder: str | Path, exclude: tuple[str, ...] = ()) -> int:
        path = str(Path(folder).expanduser().resolve())
        self.db.execute("INSERT OR IGNORE INTO folders (path, exclude) VALUES (?, ?)", (path, "\n".join(exclude)))
        return self.db.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()[0]

    def remove_folder(self, folder: str | Path) -> None:
        self.db.execute("DELETE FROM folders WHERE path = ?", (str(Path(folder).expanduser().resolve()),))
        self._matrix.clear()

    def folders(self) -> list[tuple[str, str, int]]:
        """(path, status, number of indexed files) for each folder."""
        rows = self.db.execute(
            "SELECT f.path, f.status, (SELECT COUNT(*) FROM files WHERE folder_id = f.id AND status = 'ok')"
            " FROM folders f ORDER BY f.path"
        ).fetchall()
        return [(p, s, n) for p, s, n in rows]

    def skipped(self) -> Counter:
        return Counter(dict(self.db.execute(
            "SELECT reason, COUNT(*) FROM files WHERE status = 'skipped' GROUP BY reason").fetchall()))

    # --- indexing ----------------------------------------------------------------------
    def index(self, encoder, model_key: str, cancel: CancelToken | None = None,
              folders: list[str] | None = None) -> Iterator[IndexProgress | IndexSummary]:
        cancel = cancel or CancelToken()
        started = time.monotonic()
        summary = IndexSummary()
        todo: list[tuple[int, str, int, float, str]] = []  # (folder id, path, size, mtime, hash)
        rows = self.db.execute("SELECT id, path, exclude FROM folders").fetchall()
        for folder_id, folder, exclude in rows:
            if folders is not None and folder not in folders:
                continue
            if not os.path.isdir(folder):
                self.db.execute("UPDATE folders SET status = 'offline' WHERE id = ?", (folder_id,))
                self.db.execute("UPDATE files SET status = 'offline' WHERE folder_id = ? AND status = 'ok'",
                                (folder_id,))
                summary.offline_folders.append(folder)
                continue
            self.db.execute("UPDATE folders SET status = 'ok' WHERE id = ?", (folder_id,))
            self.db.execute("UPDATE files SET status = 'ok' WHERE folder_id = ? AND status = 'offline'", (folder_id,))
            report = scan_folder(Path(folder), tuple(p for p in exclude.split("\n") if p))
            for bad in report.unreadable:
                summary.skipped["unreadable folder"] += 1
                log.warning("could not list %s", bad)
            known = {p: (i, s, m, h, st) for i, p, s, m, h, st in self.db.execute(
                "SELECT id, path, size, mtime, hash, status FROM files WHERE folder_id = ?", (folder_id,))}
            present = set()
            for f in report.found:
                summary.scanned += 1
                present.add(f.path)
                old = known.get(f.path)
                same = old and old[1] == f.size and old[2] == f.mtime
                if same and (old[4] == "skipped" or self._has(old[0], model_key)):
                    summary.unchanged += 1
                    if old[4] == "skipped":
                        summary.skipped[self._reason(old[0])] += 1
                    continue
                # Hashing happens in the decode pool: a touched-but-same file costs a read, not an embed.
                reusable = old[3] if old and old[3] and self._has(old[0], model_key, old[3]) else None
                todo.append((folder_id, f.path, f.size, f.mtime, reusable))
            gone = [known[p][0] for p in known if p not in present]
            for file_id in gone:
                self.db.execute("DELETE FROM files WHERE id = ?", (file_id,))
            summary.removed += len(gone)
        self._matrix.pop(model_key, None)

        total = len(todo)
        size = getattr(encoder, "image_size", 224)
        batch_size = getattr(encoder, "batch_size", BATCH)
        prepare = getattr(encoder, "prepare", None) or encoder.preprocess
        done = 0

        def decode(item):
            folder_id, path, fsize, mtime, reusable = item
            try:
                digest = quick_hash(path, fsize)
            except OSError:
                return (folder_id, path, fsize, mtime, None), None, "unreadable (permission denied)"
            item = (folder_id, path, fsize, mtime, digest)
            if reusable == digest:
                return item, None, "same"
            try:
                return item, prepare(open_image(path, size)), None
            except SkipImage as exc:
                return item, None, str(exc)

        with ThreadPoolExecutor(max_workers=decode_workers()) as pool:
            # A bounded window of decodes runs ahead of the model: memory stays flat.
            pending = [pool.submit(decode, t) for t in todo[: batch_size * 4]]
            next_i = len(pending)
            batch: list = []
            while pending or batch:
                if cancel.cancelled:
                    for p in pending:
                        p.cancel()
                    break
                if pending:
                    item, tensor, reason = pending.pop(0).result()
                    if next_i < total:
                        pending.append(pool.submit(decode, todo[next_i]))
                        next_i += 1
                    done += 1
                    if reason == "same":
                        self.db.execute("UPDATE files SET size = ?, mtime = ? WHERE path = ?",
                                        (item[2], item[3], item[1]))
                        summary.unchanged += 1
                    elif reason is not None:
                        summary.skipped[reason] += 1
                        self._skip(item[0], item[1], item[2], item[3], reason)
                    else:
                        batch.append((item, tensor))
                if len(batch) >= batch_size or (not pending and batch):
                    vecs = encoder.embed_images([t for _, t in batch])
                    self._store(batch, vecs, model_key)
                    summary.embedded += len(batch)
                    batch = []
                    elapsed = time.monotonic() - started
                    rate = summary.embedded / elapsed if elapsed > 0 else 0.0
                    eta = (total - done) / rate if rate > 0 else None
                    yield IndexProgress(done, total, summary.embedded, sum(summary.skipped.values()), rate, eta,
                                        os.path.basename(todo[done - 1][1]) if done else "")
        summary.seconds = time.monotonic() - started
        self._matrix.pop(model_key, None)
        yield summary

    def _has(self, file_id: int, model_key: str, digest: str | None = None) -> bool:
        sql = "SELECT 1 FROM embeddings WHERE file_id = ? AND model = ?"
        args: tuple = (file_id, model_key)
        if digest is not None:
            sql += " AND hash = ?"
            args += (digest,)
        return self.db.execute(sql, args).fetchone() is not None

    def _reason(self, file_id: int) -> str:
        row = self.db.execute("SELECT reason FROM files WHERE id = ?", (file_id,)).fetchone()
        return row[0] if row else "skipped"

    def _upsert_file(self, folder_id, path, size, mtime, digest, status, reason) -> int:
        self.db.execute(
            "INSERT INTO files (path, folder_id, size, mtime, hash, status, reason) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, hash=excluded.hash,"
            " status=excluded.status, reason=excluded.reason, folder_id=excluded.folder_id",
            (path, folder_id, size, mtime, digest, status, reason),
        )
        return self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()[0]

    def _skip(self, folder_id, path, size, mtime, reason) -> None:
        file_id = self._upsert_file(folder_id, path, size, mtime, None, "skipped", reason)
        self.db.execute("DELETE FROM embeddings WHERE file_id = ?", (file_id,))

    def _store(self, batch, vecs: np.ndarray, model_key: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for ((folder_id, path, size, mtime, digest), _), vec in zip(batch, vecs, strict=True):
                file_id = self._upsert_file(folder_id, path, size, mtime, digest, "ok", "")
                self.db.execute(
                    "INSERT OR REPLACE INTO embeddings (file_id, model, hash, vec) VALUES (?,?,?,?)",
                    (file_id, model_key, digest, vec.astype(np.float16).tobytes()),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- queries -----------------------------------------------------------------------
    def matrix(self, model_key: str) -> tuple[np.ndarray, list[int]]:
        if model_key not in self._matrix:
            rows = self.db.execute(
                "SELECT e.file_id, e.vec FROM embeddings e JOIN files f ON f.id = e.file_id"
                " WHERE e.model = ? AND f.status IN ('ok', 'offline') ORDER BY e.file_id", (model_key,)
            ).fetchall()
            if rows:
                mat = np.frombuffer(bytearray(b"".join(r[1] for r in rows)), dtype=np.float16).reshape(len(rows), -1)
            else:
                mat = np.zeros((0, 1), dtype=np.float16)
            self._matrix[model_key] = (mat, [r[0] for r in rows])
        return self._matrix[model_key]

    def vector_of(self, path: str, model_key: str) -> np.ndarray | None:
        row = self.db.execute(
            "SELECT e.vec FROM embeddings e JOIN files f ON f.id = e.file_id WHERE f.path = ? AND e.model = ?",
            (str(path), model_key),
        ).fetchone()
        return np.frombuffer(row[0], dtype=np.float16).astype(np.float32) if row else None

    def search(self, query: np.ndarray, model_key: str, top: int = 50, threshold: float | None = None) -> list[Hit]:
        mat, ids = self.matrix(model_key)
        if mat.shape[0] == 0:
            return []
        scores = score_matrix(mat, query)
        k = min(top, scores.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        if threshold is not None:
            best = best[scores[best] >= threshold]
        chosen = [ids[i] for i in best]
        info = {}
        if chosen:
            marks = ",".join("?" * len(chosen))
            info = {i: (p, s) for i, p, s in self.db.execute(
                f"SELECT id, path, status FROM files WHERE id IN ({marks})", chosen)}
        return [Hit(info[ids[i]][0], float(scores[i]), info[ids[i]][1] == "offline") for i in best if ids[i] in info]


def score_matrix(mat: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine scores of a float16 matrix against one vector, a chunk at a time: the
    float32 copy numpy needs for a fast product never exceeds one chunk."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    try:  # torch multiplies float16 in place, ~7x faster than numpy's chunked path, no copy
        import torch

        if mat.flags.writeable:
            return torch.mv(torch.from_numpy(mat), torch.from_numpy(q).half()).float().numpy()
    except ImportError:
        pass
    out = np.empty(mat.shape[0], dtype=np.float32)
    for start in range(0, mat.shape[0], SEARCH_CHUNK):
        chunk = mat[start : start + SEARCH_CHUNK].astype(np.float32)
        np.dot(chunk, q, out=out[start : start + chunk.shape[0]])
    return out
