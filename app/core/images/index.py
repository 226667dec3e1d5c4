"""The photo index: SQLite for what is known, a float16 matrix for queries.

Incremental: a file whose size and mtime are unchanged is not touched; a
changed file is re-hashed and only re-embedded if its content changed;
deleted files leave; a folder that is missing (an unplugged drive) keeps its
entries, marked offline. Decoding runs in a thread pool ahead of the model's
batches, so the two overlap.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.db import DamagedDatabaseError, is_damage, open_db, schema_differences, set_aside
from app.core.images import likeness, metadb
from app.core.images.filters import Filters
from app.core.images.meta import PhotoMeta, read_exif
from app.core.images.scan import (
    DELETED,
    KnownFile,
    SkipImage,
    Todo,
    display_path,
    open_image,
    plan_folder,
    quick_hash,
    scan_folder,
)
from app.core.jobs import CancelToken

log = logging.getLogger(__name__)
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
    # Folders that lost every indexed picture at once (an empty mount point looks so): kept as offline
    # until the user confirms removing their entries (remove_missing, or forget_missing).
    emptied_folders: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0


@dataclass
class Hit:
    path: str
    score: float
    offline: bool = False
    taken: str | None = None  # ISO 8601, with the offset when known
    taken_source: str | None = None  # "exif", or "file" (the file's time: no date in the picture)
    place: str | None = None  # "Lisbon, Portugal"
    ranked: bool = True  # False: listed by a date or place only (a browse), its score (1) means nothing


class IndexDamagedError(DamagedDatabaseError):
    pass


def _to_db(path: str) -> str | bytes:
    """A path as stored: text, or for a name that is not UTF-8 its bytes (lossless; SQLite text must be UTF-8)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def _from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


@contextlib.contextmanager
def _damage_named(path: Path):
    """sqlite3's 'malformed' and 'not a database' become IndexDamagedError, whose message says what is wrong."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise IndexDamagedError(f"the photo index ({path}) is damaged: {exc}", path) from exc
        raise


def _guarded(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with _damage_named(self.path):
            return method(self, *args, **kwargs)

    return call


def decode_workers() -> int:
    """Threads for decoding: PIL releases the GIL, and a GPU model outruns a few threads."""
    return max(1, min(8, os.cpu_count() or 1))


def default_path() -> Path:
    return paths.db_dir() / "images.sqlite3"


def _v0_to_v1(db: sqlite3.Connection) -> None:
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


def _v1_to_v2(db: sqlite3.Connection) -> None:
    # The device each folder and file was on when indexed: an unmounted nested drive is told from deletions.
    db.execute("ALTER TABLE folders ADD COLUMN dev INTEGER")
    db.execute("ALTER TABLE files ADD COLUMN dev INTEGER")


def _v3_to_v4(db: sqlite3.Connection) -> None:
    likeness.create_table(db)  # perceptual hashes, sharpness and size for finding duplicates


MIGRATIONS = [_v0_to_v1, _v1_to_v2, metadb.v2_to_v3, _v3_to_v4, likeness.drop_taken]


@dataclass
class _Decoded:
    todo: Todo
    digest: str | None
    tensor: object = None
    reason: str | None = None  # None: embed it; "same": content unchanged; else why it was skipped
    like: likeness.Likeness | None = None
    meta: PhotoMeta | None = None


class ImageIndex:
    def __init__(self, path: Path | None = None, read_meta: bool = True):
        self.path = Path(path) if path else default_path()
        self.read_meta = read_meta  # False only to measure what reading metadata costs (scripts/bench.py)
        try:
            self.store = open_db(self.path, MIGRATIONS, "the photo index", newer="refuse")
        except DamagedDatabaseError as exc:
            raise IndexDamagedError(str(exc), self.path) from exc
        self.db = self.store.conn
        try:
            with _damage_named(self.path):
                odd = schema_differences(self.db, MIGRATIONS)
        except BaseException:
            self.store.close()
            raise
        if odd:  # foreign tables or columns: a hostile or hand-made file, never queried as if it were ours
            self.store.close()
            log.info("the photo index %s is not as Hearth writes it: %s", self.path, "; ".join(odd))
            raise IndexDamagedError(f"the photo index ({self.path}) is damaged: it is not as Hearth writes it "
                                    f"({'; '.join(odd[:3])})", self.path)
        self._matrix: dict[str, tuple[np.ndarray, list[int]]] = {}
        self._want_likeness: set[str] = set()  # unchanged paths decoded again only for their likeness

    @classmethod
    def rebuild(cls, path: Path | None = None) -> ImageIndex:
        """Sets a damaged index aside (never deleted) and starts a new one with the same folders, where
        the old file still names them."""
        path = Path(path) if path else default_path()
        folders: list[tuple] = []
        try:
            old = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                folders = old.execute("SELECT path, exclude FROM folders").fetchall()
            finally:
                old.close()
        except sqlite3.Error as exc:
            log.warning("no folder list could be read from the damaged index: %s", exc)
        set_aside(path)
        index = cls(path)
        for folder, exclude in folders:
            with contextlib.suppress(sqlite3.Error, TypeError, AttributeError):  # a damaged row
                index.db.execute("INSERT OR IGNORE INTO folders (path, exclude) VALUES (?, ?)", (folder, exclude))
        return index

    def close(self) -> None:
        self.store.close()

    def forget_cached_vectors(self) -> None:
        """After files left the index behind its back (the duplicates' removal): the next query reloads."""
        self._matrix.clear()

    # --- folders -----------------------------------------------------------------------
    def add_folder(self, folder: str | Path, exclude: tuple[str, ...] = ()) -> int:
        path = _to_db(str(Path(folder).expanduser().resolve()))
        self.db.execute("INSERT OR IGNORE INTO folders (path, exclude) VALUES (?, ?)", (path, "\n".join(exclude)))
        return self.db.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()[0]

    def remove_folder(self, folder: str | Path) -> None:
        self.db.execute("DELETE FROM folders WHERE path = ?", (_to_db(str(Path(folder).expanduser().resolve())),))
        self._matrix.clear()

    def forget_missing(self, folder: str) -> int:
        """Removes a folder's entries whose files are gone (what the user confirmed for an emptied folder)."""
        row = self.db.execute("SELECT id FROM folders WHERE path = ?", (_to_db(folder),)).fetchone()
        if row is None:
            return 0
        gone = [(i,) for i, p in self.db.execute("SELECT id, path FROM files WHERE folder_id = ?", (row[0],))
                if not os.path.lexists(_from_db(p))]
        with self.store.transaction():
            self.db.executemany("DELETE FROM files WHERE id = ?", gone)
            self.db.execute("UPDATE folders SET status = 'ok' WHERE id = ?", (row[0],))
        self._matrix.clear()
        return len(gone)

    @_guarded
    def folders(self) -> list[tuple[str, str, int]]:
        """(path, status, number of indexed files) for each folder."""
        rows = self.db.execute(
            "SELECT f.path, f.status, (SELECT COUNT(*) FROM files WHERE folder_id = f.id AND status = 'ok')"
            " FROM folders f ORDER BY f.path"
        ).fetchall()
        return [(_from_db(p), s, n) for p, s, n in rows]

    @_guarded
    def skipped(self) -> Counter:
        return Counter(dict(self.db.execute(
            "SELECT reason, COUNT(*) FROM files WHERE status = 'skipped' GROUP BY reason").fetchall()))

    @_guarded
    def skipped_files(self, limit: int = 2000) -> list[tuple[str, str]]:
        """(path, reason) of the files indexing skipped, for the user to see which and why."""
        rows = self.db.execute(
            "SELECT path, reason FROM files WHERE status = 'skipped' ORDER BY path LIMIT ?", (limit,)).fetchall()
        return [(_from_db(p), r or "skipped") for p, r in rows]

    # --- indexing: plan, decode, embed and store ---------------------------------------
    def index(self, encoder, model_key: str, cancel: CancelToken | None = None,
              folders: list[str] | None = None, remove_missing: bool = False) -> Iterator[IndexProgress | IndexSummary]:
        with _damage_named(self.path):
            yield from self._index(encoder, model_key, cancel, folders, remove_missing)

    def _index(self, encoder, model_key, cancel, folders, remove_missing) -> Iterator[IndexProgress | IndexSummary]:
        cancel = cancel or CancelToken()
        started = time.monotonic()
        summary = IndexSummary()
        todo = self._plan(model_key, folders, summary, remove_missing)
        self._matrix.pop(model_key, None)
        batch_size = getattr(encoder, "batch_size", BATCH)
        batch: list[_Decoded] = []
        embed_s = 0.0  # the model's own time: decoding runs beside it in the pool
        for done, item in enumerate(self._decoded(todo, encoder, batch_size * 4, cancel), start=1):
            if item.reason is None:
                batch.append(item)
            else:
                self._record_unembedded(item, summary)
            if len(batch) >= batch_size or (done == len(todo) and batch):
                embed_s += self._embed_and_store(batch, encoder, model_key)
                summary.embedded += len(batch)
                batch = []
                elapsed = time.monotonic() - started
                rate = summary.embedded / elapsed if elapsed > 0 else 0.0
                eta = (len(todo) - done) / rate if rate > 0 else None
                yield IndexProgress(done, len(todo), summary.embedded, sum(summary.skipped.values()), rate, eta,
                                    display_path(os.path.basename(item.todo.path)))
        summary.seconds = time.monotonic() - started
        self._matrix.pop(model_key, None)
        report = getattr(encoder, "report_speed", None)
        if report is not None and summary.embedded and not cancel.cancelled:
            try:
                report(embed_s, summary.embedded)
            except Exception:  # noqa: BLE001 - a calibration is never worth an index run
                log.exception("could not record the images speed")
        yield summary

    def _plan(self, model_key: str, only: list[str] | None, summary: IndexSummary,
              remove_missing: bool = False) -> list[Todo]:
        """Scans each folder, records what went offline or away, and returns what to decode."""
        todo: list[Todo] = []
        self._want_likeness.clear()
        rows = self.db.execute("SELECT id, path, exclude, dev FROM folders").fetchall()
        for folder_id, stored, exclude, was_dev in rows:
            folder = _from_db(stored)
            if only is not None and folder not in only:
                continue
            if not os.path.isdir(folder):
                self._set_offline(folder_id)
                summary.offline_folders.append(folder)
                continue
            report = scan_folder(Path(folder), tuple(p for p in exclude.split("\n") if p))
            for bad in report.unreadable:
                summary.skipped["unreadable folder"] += 1
                log.warning("could not list %s", bad)
            plan = plan_folder(folder_id, report.found, self._known(folder_id, model_key), folder, was_dev)
            if plan.lost_all and not remove_missing:
                log.warning("%s lost every indexed picture at once: kept as offline until removal is confirmed",
                            display_path(folder))
                self._set_offline(folder_id)
                summary.offline_folders.append(folder)
                summary.emptied_folders.append(folder)
                continue
            if remove_missing:  # the user confirmed: an unmounted drive's entries go too
                plan.gone, plan.unmounted, plan.unmounted_dirs = plan.gone + plan.unmounted, [], set()
            with self.store.transaction():
                self.db.execute("UPDATE folders SET status = 'ok', dev = ? WHERE id = ?", (report.dev, folder_id))
                self.db.execute("UPDATE files SET status = 'ok' WHERE folder_id = ? AND status = 'offline'",
                                (folder_id,))
                self.db.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in plan.gone])
                self.db.executemany("UPDATE files SET status = 'offline' WHERE id = ? AND status = 'ok'",
                                    [(i,) for i in plan.unmounted])
                self.db.executemany("UPDATE files SET dev = ? WHERE id = ?", plan.moved_dev)
            for where in sorted(plan.unmounted_dirs):
                log.warning("%s: a drive that was mounted here is not now: its pictures are kept as offline",
                            display_path(where))
                summary.offline_folders.append(where)
            backfill = self._likeness_backfill(folder_id, model_key, plan.todo)
            summary.scanned += plan.scanned
            summary.unchanged += plan.unchanged - len(backfill)  # counted again when decoded
            summary.skipped.update(plan.skipped)
            summary.removed += len(plan.gone)
            todo += plan.todo + backfill
        return todo

    def _likeness_backfill(self, folder_id: int, model_key: str, planned: list[Todo]) -> list[Todo]:
        """Unchanged pictures indexed before likeness was kept: decoded once more for it, not embedded."""
        queued = {t.path for t in planned}
        out = []
        for _, path, size, mtime, digest, dev in likeness.missing(self.db, folder_id, model_key):
            p = _from_db(path)
            self._want_likeness.add(p)  # a touched file already queued is decoded for it too
            if p not in queued:
                out.append(Todo(folder_id, p, size, mtime, digest, dev))
        return out

    def _known(self, folder_id: int, model_key: str) -> dict[str, KnownFile]:
        rows = self.db.execute(
            "SELECT f.id, f.path, f.size, f.mtime, f.hash, f.status, f.reason, e.hash, f.dev,"
            " ? OR EXISTS (SELECT 1 FROM photo_meta m WHERE m.file_id = f.id) FROM files f"
            " LEFT JOIN embeddings e ON e.file_id = f.id AND e.model = ? WHERE f.folder_id = ?",
            (not self.read_meta, model_key, folder_id))
        return {_from_db(r[1]): KnownFile(r[0], *r[2:]) for r in rows}

    def _set_offline(self, folder_id: int) -> None:
        with self.store.transaction():
            self.db.execute("UPDATE folders SET status = 'offline' WHERE id = ?", (folder_id,))
            self.db.execute("UPDATE files SET status = 'offline' WHERE folder_id = ? AND status = 'ok'",
                            (folder_id,))

    def _decoded(self, todo: list[Todo], encoder, window: int, cancel: CancelToken) -> Iterator[_Decoded]:
        """Hashes and decodes in a pool, a bounded window ahead of the model; yields in order."""
        size = getattr(encoder, "image_size", 224)
        prepare = getattr(encoder, "prepare", None) or encoder.preprocess

        def decode(t: Todo) -> _Decoded:
            try:
                digest = quick_hash(t.path, t.size)
            except FileNotFoundError:
                return _Decoded(t, None, reason=DELETED)
            except PermissionError:
                return _Decoded(t, None, reason="unreadable (permission denied)")
            except OSError as exc:
                return _Decoded(t, None, reason=f"unreadable ({exc.strerror or exc})")
            backfill = t.path in self._want_likeness
            if t.reusable == digest and not backfill:  # EXIF may be new to the index (migrated): header only
                return _Decoded(t, digest, reason="same", meta=metadb.header_meta(t.path) if self.read_meta else None)
            metas: list[PhotoMeta] = []
            on_load = (lambda im: metas.append(read_exif(im))) if self.read_meta else None
            try:
                image = open_image(t.path, size, on_load=on_load)
                like = likeness.likeness_of(image)  # from the same decode: the picture is read once
                meta = metas[0] if metas else None
                if t.reusable == digest:
                    return _Decoded(t, digest, reason="same", like=like, meta=meta)
                return _Decoded(t, digest, prepare(image), like=like, meta=meta)
            except SkipImage as exc:
                return _Decoded(t, digest, reason=str(exc))

        with ThreadPoolExecutor(max_workers=decode_workers()) as pool:
            pending = deque(pool.submit(decode, t) for t in todo[:window])
            next_i = len(pending)
            while pending:
                if cancel.cancelled:
                    for p in pending:
                        p.cancel()
                    return
                result = pending.popleft().result()
                if next_i < len(todo):
                    pending.append(pool.submit(decode, todo[next_i]))
                    next_i += 1
                yield result

    def _record_unembedded(self, item: _Decoded, summary: IndexSummary) -> None:
        t = item.todo
        assert item.reason is not None  # only a picture left undecoded comes here, with its reason
        if item.reason == "same":
            self.db.execute("UPDATE files SET size = ?, mtime = ?, dev = ? WHERE path = ?",
                            (t.size, t.mtime, t.dev, _to_db(t.path)))
            if item.meta is not None:
                row = self.db.execute("SELECT id FROM files WHERE path = ?", (_to_db(t.path),)).fetchone()
                if row is not None:
                    metadb.store(self.db, row[0], item.meta, t.mtime)
            summary.unchanged += 1
            if item.like is not None and item.digest is not None:
                row = self.db.execute("SELECT id FROM files WHERE path = ?", (_to_db(t.path),)).fetchone()
                if row is not None:
                    likeness.store(self.db, row[0], item.digest, item.like)
            return
        summary.skipped[item.reason] += 1
        if item.reason == DELETED:  # gone between the scan and the decode: nothing to keep
            self.db.execute("DELETE FROM files WHERE path = ?", (_to_db(t.path),))
            return
        with self.store.transaction():
            file_id = self._upsert_file(t, None, "skipped", item.reason)
            self.db.execute("DELETE FROM embeddings WHERE file_id = ?", (file_id,))

    def _embed_and_store(self, batch: list[_Decoded], encoder, model_key: str) -> float:
        """Embeds and stores a batch; returns the seconds the model took."""
        began = time.perf_counter()
        vecs = encoder.embed_images([d.tensor for d in batch])
        seconds = time.perf_counter() - began
        with self.store.transaction():
            ids = [self._upsert_file(d.todo, d.digest, "ok", "") for d in batch]
            likeness.store_rows(self.db, [(i, d.digest, d.like) for i, d in zip(ids, batch, strict=True)
                                          if d.like is not None and d.digest is not None])
            if self.read_meta:
                metadb.store_rows(self.db, [metadb.row(i, d.meta or PhotoMeta(), d.todo.mtime)
                                            for i, d in zip(ids, batch, strict=True)])
            self.db.executemany(
                "INSERT OR REPLACE INTO embeddings (file_id, model, hash, vec) VALUES (?,?,?,?)",
                [(i, model_key, d.digest, vec.astype(np.float16).tobytes())
                 for i, d, vec in zip(ids, batch, vecs, strict=True)])
        return seconds

    def _upsert_file(self, t: Todo, digest: str | None, status: str, reason: str) -> int:
        return self.db.execute(
            "INSERT INTO files (path, folder_id, size, mtime, hash, status, reason, dev) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, hash=excluded.hash,"
            " status=excluded.status, reason=excluded.reason, folder_id=excluded.folder_id, dev=excluded.dev"
            " RETURNING id",
            (_to_db(t.path), t.folder_id, t.size, t.mtime, digest, status, reason, t.dev),
        ).fetchall()[0][0]  # stepped to its end: no statement left open in the transaction

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
            (_to_db(str(path)), model_key),
        ).fetchone()
        return np.frombuffer(row[0], dtype=np.float16).astype(np.float32) if row else None

    @_guarded
    def has_year(self, year: int) -> bool:
        """Whether a photo in the index was taken in that year."""
        return metadb.has_year(self.db, year)

    @_guarded
    def place_names(self) -> set[str]:
        """The folded names of the places, regions and countries the library's photos were taken in."""
        return metadb.place_names(self.db)

    @_guarded
    def search(self, query: np.ndarray | None, model_key: str, top: int = 50, threshold: float | None = None,
               filters: Filters | None = None) -> list[Hit]:
        """The best matches of a query vector among the photos the filters let through. No vector (only
        filters): every photo they let through, newest first, each scored 1 and not ``ranked``."""
        mat, ids = self.matrix(model_key)
        if mat.shape[0] == 0:
            return []
        if query is None:
            return self._browse(ids, top, filters or Filters())
        scores = score_matrix(mat, query)
        if filters is not None and not filters.empty:
            allowed = metadb.matching_ids(self.db, filters)
            scores = np.where(np.isin(np.asarray(ids), list(allowed)), scores, -np.inf).astype(np.float32)
            top = min(top, len(allowed))
            if top == 0:
                return []
        k = min(top, scores.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        best = best[np.isfinite(scores[best])]  # filtered out
        if threshold is not None:
            best = best[scores[best] >= threshold]
        return self._hits([(ids[i], float(scores[i])) for i in best])

    def _browse(self, ids: list[int], top: int, filters: Filters) -> list[Hit]:
        allowed = metadb.matching_ids(self.db, filters) if not filters.empty else set(ids)
        indexed = set(ids)
        rows = self.db.execute("SELECT file_id FROM photo_meta ORDER BY taken DESC, file_id").fetchall()
        chosen = [r[0] for r in rows if r[0] in allowed and r[0] in indexed][:top]
        return self._hits([(i, 1.0) for i in chosen], ranked=False)

    def _hits(self, scored: list[tuple[int, float]], ranked: bool = True) -> list[Hit]:
        chosen = [i for i, _ in scored]
        info = {}
        if chosen:
            marks = ",".join("?" * len(chosen))
            info = {i: (_from_db(p), s) for i, p, s in self.db.execute(
                f"SELECT id, path, status FROM files WHERE id IN ({marks})", chosen)}
        meta = metadb.describe(self.db, chosen)
        return [Hit(info[i][0], score, info[i][1] == "offline", *meta.get(i, (None, None, None)), ranked=ranked)
                for i, score in scored if i in info]


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
