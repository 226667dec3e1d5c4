"""Duplicate groups from the photo index, and removal of the ones the user chose: to the system trash
(send2trash), never unlinked, and out of the index."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from app.core.images.calibration import thresholds_for
from app.core.images.duplicates import Library, find_groups
from app.core.images.index import ImageIndex, _from_db, _to_db
from app.core.images.scan import display_path
from app.core.jobs import InputError

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1)


@dataclass
class Picture:
    path: str
    size: int  # bytes
    pixels: int
    sharpness: float


@dataclass
class Removal:
    removed: list[str]
    failed: list[tuple[str, str]]  # (path, why in words)


def _taken(rows: list[tuple]) -> np.ndarray:
    """When each picture was taken, for bursts: the EXIF date the metadata keeps, as seconds on the photo's
    own clock (nan where none). A file's time is not used: copying a library gives every file the same
    one, which is no burst."""
    out = np.full(len(rows), np.nan)
    for k, r in enumerate(rows):
        try:
            out[k] = (datetime.fromisoformat(r[6]) - _EPOCH).total_seconds() if r[6] else np.nan
        except (TypeError, ValueError):
            pass
    return out


def _rows(index: ImageIndex, model_key: str, folder: str | None) -> tuple[list[tuple], np.ndarray]:
    """(file rows, their CLIP vectors) of the indexed pictures that have a likeness and a vector."""
    mat, ids = index.matrix(model_key)
    where = {file_id: k for k, file_id in enumerate(ids)}
    rows = index.db.execute(
        "SELECT f.id, f.path, f.size, l.phash, l.sharpness, l.pixels,"
        " CASE WHEN m.taken_source = 'exif' THEN m.taken END FROM files f"
        " JOIN likeness l ON l.file_id = f.id AND l.hash = f.hash LEFT JOIN photo_meta m ON m.file_id = f.id"
        " WHERE f.status = 'ok' ORDER BY f.id").fetchall()
    if folder is not None:
        prefix = os.path.join(str(Path(folder).expanduser().resolve()), "")
        rows = [r for r in rows if _from_db(r[1]).startswith(prefix)]
    rows = [r for r in rows if r[0] in where]
    vecs = mat[[where[r[0]] for r in rows]] if rows else np.zeros((0, mat.shape[1]), dtype=np.float16)
    return rows, vecs


def find_duplicates(index: ImageIndex, model_key: str, folder: str | None = None) -> list[list[Picture]]:
    """Groups of near-duplicates and bursts among the indexed pictures (under folder if given), the
    suggested keeper first. Pictures indexed before likeness was kept join after the next index run."""
    if folder is not None and not os.path.isdir(folder):
        raise InputError(f"{display_path(folder)} is not a folder.")
    rows, vecs = _rows(index, model_key, folder)
    if len(rows) < 2:
        return []
    lib = Library(
        phash=np.array([r[3] for r in rows], dtype=np.int64).view(np.uint64),
        vectors=vecs,
        taken=_taken(rows),
        pixels=np.array([r[5] for r in rows], dtype=np.int64),
        sharpness=np.array([r[4] for r in rows], dtype=np.float32),
        size=np.array([r[2] or 0 for r in rows], dtype=np.int64),
    )
    groups = find_groups(lib, thresholds_for(model_key))
    return [[Picture(_from_db(rows[k][1]), int(rows[k][2] or 0), int(rows[k][5]), float(rows[k][4])) for k in g]
            for g in groups]


def send_to_trash(index: ImageIndex, paths: list[str]) -> Removal:
    """Moves each picture to the system trash and forgets it in the index. Only a file the index holds,
    inside one of its folders, is touched; one that cannot be trashed is said, and stays where it is."""
    from send2trash import send2trash
    from send2trash.exceptions import TrashPermissionError

    folders = [os.path.join(f, "") for f, _, _ in index.folders()]
    done = Removal([], [])
    for path in paths:
        shown = display_path(path)
        real = os.path.realpath(path)
        known = index.db.execute("SELECT id, size, mtime FROM files WHERE path = ?", (_to_db(path),)).fetchone()
        if known is None or not any(real.startswith(f) or path.startswith(f) for f in folders):
            done.failed.append((path, f"{shown} is not a picture in the photo library"))
            continue
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is None or not os.path.isfile(path):
            done.failed.append((path, f"{shown} is no longer there"))
            continue
        if (st.st_size, st.st_mtime) != (known[1], known[2]):  # not the picture that was found alike
            log.info("not trashed, changed since it was indexed: %s", shown)
            done.failed.append((path, f"{shown} has changed since it was indexed, so it was left where it is "
                                      "(index the folder again, then look for duplicates again)"))
            continue
        try:
            send2trash(path)
        except (OSError, TrashPermissionError) as exc:
            log.warning("could not move %s to the trash: %s", shown, exc)
            done.failed.append((path, f"{shown} could not be moved to the trash; it was left where it is"))
            continue
        with index.store.transaction():
            index.db.execute("DELETE FROM files WHERE id = ?", (known[0],))
        done.removed.append(path)
        log.info("moved %s to the trash", shown)
    if done.removed:
        index.forget_cached_vectors()
    return done
