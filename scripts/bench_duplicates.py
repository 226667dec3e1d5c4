"""`bench.py images` (and `images-duplicates` alone): finding duplicates over an index of 20,000 pictures.

The index rows are synthesised (files, CLIP vectors, likeness: no 20,000 files decoded), with groups of
near-duplicates and bursts planted among random pictures; the timing is `find_duplicates` end to end
(reading the index, the hash neighbour search, the cosines, the groups). Also: what computing a
picture's likeness adds to its decode while indexing. HEARTH_BENCH_DUPES sets the number of pictures."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

N_PICTURES = 20_000
DIM = 512
PLANTED = 400  # groups of 2 to 5 near-duplicates (some of them bursts)


def _synthesise(index, n: int, key: str, rng: np.random.Generator) -> int:
    """n pictures in one folder; returns the number of groups planted."""
    from app.core.images.likeness import Likeness, store

    hashes = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    taken = np.full(n, np.nan)
    planted, k = 0, 0
    while planted < min(PLANTED, n // 10) and k + 5 <= n:
        size = int(rng.integers(2, 6))
        for m in range(1, size):  # a few bits off, a vector a little off, a second apart
            flips = rng.choice(64, size=int(rng.integers(0, 7)), replace=False)
            hashes[k + m] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in flips))
            vecs[k + m] = vecs[k] + rng.normal(scale=0.1, size=DIM)
        taken[k : k + size] = 1.7e9 + planted * 3600 + np.arange(size)
        k += size
        planted += 1
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    folder = Path(index.path).parent / "photos"
    folder_id = index.add_folder(folder)
    with index.store.transaction():
        for i in range(n):
            path = str(folder / f"p{i:06d}.jpg")
            cur = index.db.execute(
                "INSERT INTO files (path, folder_id, size, mtime, hash, status) VALUES (?,?,?,?,?, 'ok')",
                (path, folder_id, 1_000_000 + i, 0.0, f"h{i}"))
            file_id = cur.lastrowid
            index.db.execute("INSERT INTO embeddings (file_id, model, hash, vec) VALUES (?,?,?,?)",
                             (file_id, key, f"h{i}", vecs[i].astype(np.float16).tobytes()))
            store(index.db, file_id, f"h{i}", Likeness(int(hashes[i].view(np.int64)), 0, 100.0, 12_000_000))
            if not np.isnan(taken[i]):  # bursts read the metadata's date taken
                when = datetime.fromtimestamp(float(taken[i]), timezone.utc).replace(tzinfo=None)
                index.db.execute("INSERT INTO photo_meta (file_id, taken, taken_source) VALUES (?, ?, 'exif')",
                                 (file_id, when.isoformat()))
    return planted


def _likeness_cost(samples: int = 100) -> dict:
    """Milliseconds a picture's likeness adds to its decode (a 1600 x 1200 JPEG, decoded as indexing does)."""
    from PIL import Image

    from app.core.images.likeness import likeness_of
    from app.core.images.scan import open_image

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.jpg")
        noise = np.random.default_rng(0).integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
        Image.fromarray(noise).save(path, quality=90)
        t = time.perf_counter()
        images = [open_image(path, 224) for _ in range(samples)]
        decode = (time.perf_counter() - t) / samples
        t = time.perf_counter()
        for im in images:
            likeness_of(im)
        like = (time.perf_counter() - t) / samples
    return {"decode_ms": round(decode * 1e3, 2), "likeness_ms": round(like * 1e3, 2),
            "likeness_share_of_decode": round(like / decode, 3)}


def duplicates_over_index(n: int | None = None) -> dict:
    n = n or int(os.environ.get("HEARTH_BENCH_DUPES", N_PICTURES))
    with tempfile.TemporaryDirectory() as home:
        old = os.environ.get("HEARTH_HOME")
        os.environ["HEARTH_HOME"] = home
        try:
            from app.core.images.cleanup import find_duplicates
            from app.core.images.index import ImageIndex

            index = ImageIndex(Path(home) / "images.sqlite3")
            planted = _synthesise(index, n, "bench:0", np.random.default_rng(7))
            index.forget_cached_vectors()
            t = time.perf_counter()
            groups = find_duplicates(index, "bench:0")
            seconds = time.perf_counter() - t
            index.close()
        finally:
            if old is None:
                os.environ.pop("HEARTH_HOME", None)
            else:
                os.environ["HEARTH_HOME"] = old
    return {"pictures": n, "groups_planted": planted, "groups_found": len(groups),
            "find_s": round(seconds, 3), "find_goal": "<= 10 s on 2 cores", "likeness": _likeness_cost()}
