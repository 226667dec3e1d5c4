"""What a picture looks like in 64 bits, how sharp it is and how large: made at indexing time from the
picture the index already decoded, kept in the index's `likeness` table, read by `duplicates`.

pHash and dHash are computed here with numpy rather than through `imagehash`: that library needs scipy and
PyWavelets (tens of MB, neither otherwise a dependency) for a 32x32 DCT that is one matrix product."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

SHARP_SIDE = 256  # sharpness is measured at one scale, so pictures of different sizes compare
SHARP_BAND = 64  # rows of the Laplacian computed at once (its arrays stay under 128 KB)


@dataclass
class Likeness:
    phash: int  # 64-bit DCT hash, as a signed int64 (SQLite's integer)
    dhash: int  # 64-bit gradient hash, the same
    sharpness: float  # variance of the Laplacian of the grey thumbnail
    pixels: int  # width x height of the file as stored (before any decode-time shrinking)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT32 = _dct_matrix(32)


def _pack(bits: np.ndarray) -> int:
    """64 booleans as a signed 64-bit int (bit i is bits[i])."""
    return int(np.packbits(bits.reshape(-1), bitorder="little").view("<i8")[0])


def phash(grey32: np.ndarray) -> int:
    """The low 8x8 frequencies of a 32x32 grey picture's DCT, each above or below their median."""
    low = (_DCT32 @ grey32 @ _DCT32.T)[:8, :8]
    return _pack(low > np.median(low))


def dhash(grey9x8: np.ndarray) -> int:
    """Whether each pixel of a 9x8 grey picture is brighter than its left neighbour."""
    return _pack(grey9x8[:, 1:] > grey9x8[:, :-1])


def sharpness(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: blur lowers it. In integers (a grey Laplacian fits int16),
    summed in int64: exact. A band of rows at a time: arrays over glibc's 128 KB threshold were handed back
    to the system at each free and faulted in again at the next picture (4x the time). And no float dot
    product: that wakes OpenBLAS's threads, which then spin against the model's."""
    rows, cols = grey.shape[:2]
    if rows < 3 or cols < 3:
        return 0.0
    total = squares = 0
    for top in range(0, rows - 2, SHARP_BAND):
        g = grey[top : min(top + SHARP_BAND + 2, rows)].astype(np.int16)
        lap = g[1:-1, :-2] + g[1:-1, 2:]
        lap += g[:-2, 1:-1]
        lap += g[2:, 1:-1]
        lap -= 4 * g[1:-1, 1:-1]
        wide = lap.astype(np.int32)
        total += int(wide.sum(dtype=np.int64))
        squares += int((wide * wide).sum(dtype=np.int64))
    n = (rows - 2) * (cols - 2)
    return (squares - total * total / n) / n


def likeness_of(image) -> Likeness:
    """From the decoded RGB picture (open_image's): cheap next to the decode itself."""
    from PIL import Image

    grey = image.convert("L")
    g32 = np.asarray(grey.resize((32, 32), Image.Resampling.BOX), dtype=np.float32)
    g98 = np.asarray(grey.resize((9, 8), Image.Resampling.BOX), dtype=np.float32)
    small = grey
    if max(small.size) > SHARP_SIDE:
        small = grey.copy()
        small.thumbnail((SHARP_SIDE, SHARP_SIDE), Image.Resampling.BOX)
    elif max(small.size) < SHARP_SIDE:  # a small picture is scaled up, so it shows as soft as it is
        scale = SHARP_SIDE / max(small.size)
        small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))),
                             Image.Resampling.BILINEAR)
    pixels = int(image.info.get("hearth_pixels") or image.width * image.height)
    return Likeness(phash(g32), dhash(g98), sharpness(np.asarray(small)), pixels)


# --- the index's table (its migration is in index.py's list) ------------------------------------------
def create_table(db: sqlite3.Connection) -> None:
    """Schema 4's table (its taken column goes in 5: drop_taken)."""
    db.execute(
        "CREATE TABLE likeness (file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,"
        " hash TEXT NOT NULL, phash INTEGER NOT NULL, dhash INTEGER NOT NULL, sharpness REAL NOT NULL,"
        " pixels INTEGER NOT NULL, taken REAL)")


def drop_taken(db: sqlite3.Connection) -> None:
    # Schema 5: bursts read the date taken the metadata keeps (photo_meta), one EXIF reading for both.
    db.execute("ALTER TABLE likeness DROP COLUMN taken")


_INSERT = "INSERT OR REPLACE INTO likeness (file_id, hash, phash, dhash, sharpness, pixels) VALUES (?,?,?,?,?,?)"


def store(db: sqlite3.Connection, file_id: int, digest: str, like: Likeness) -> None:
    store_rows(db, [(file_id, digest, like)])


def store_rows(db: sqlite3.Connection, rows: list[tuple[int, str, Likeness]]) -> None:
    """(file id, content hash, likeness) of a batch, in one statement."""
    db.executemany(_INSERT, [(i, digest, k.phash, k.dhash, k.sharpness, k.pixels) for i, digest, k in rows])


def missing(db: sqlite3.Connection, folder_id: int, model_key: str) -> list[tuple]:
    """(id, path, size, mtime, hash, dev) of the folder's embedded files with no likeness for their content:
    indexed before likeness existed. The next index run decodes them once more, and embeds nothing."""
    return db.execute(
        "SELECT f.id, f.path, f.size, f.mtime, f.hash, f.dev FROM files f"
        " JOIN embeddings e ON e.file_id = f.id AND e.model = ? AND e.hash = f.hash"
        " LEFT JOIN likeness l ON l.file_id = f.id AND l.hash = f.hash"
        " WHERE f.folder_id = ? AND f.status = 'ok' AND l.file_id IS NULL", (model_key, folder_id)).fetchall()
