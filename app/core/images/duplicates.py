"""Near-duplicates and bursts among indexed pictures: a perceptual hash and the CLIP vector must agree.

Candidates come from a vectorised XOR + popcount of the 64-bit pHashes (every pair, a block of rows at a
time: about 200 M pairs for 20,000 pictures, no Python loop per pair) and, for bursts, from pictures
taken within seconds of each other (a sorted sweep). A candidate pair is kept when its hash distance and
its CLIP cosine both pass the model's thresholds (`calibration.py`); groups are the connected pairs. The
suggested keeper is the largest of the sharp ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.images.calibration import Thresholds

BLOCK = 128  # rows per XOR block: its buffers stay ~25 MB at 20,000 pictures
NEAR_NEIGHBOURS = 64  # pairs kept per picture, its nearest: 20,000 copies of one blank frame make 200 M pairs
BURST_NEIGHBOURS = 32  # pictures compared forward in time: a long burst still chains frame to frame
SHARP_SHARE = 0.5  # "sharp": at least this share of the group's sharpest picture's sharpness


@dataclass
class Library:
    """What grouping needs, one row per picture (numpy arrays of equal length)."""

    phash: np.ndarray  # uint64
    vectors: np.ndarray  # (n, d) CLIP vectors, unit length (float16 or float32)
    taken: np.ndarray  # float64 POSIX seconds; nan where unknown
    pixels: np.ndarray  # int64
    sharpness: np.ndarray  # float32
    size: np.ndarray | None = None  # int64 bytes: between equal pixel counts, the less compressed


if hasattr(np, "bitwise_count"):  # numpy >= 2

    def popcount(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.bitwise_count(x, out=out)
else:  # pragma: no cover - numpy 1.26
    _BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def popcount(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        b = np.ascontiguousarray(x).view(np.uint8).reshape(*x.shape, 8)
        return _BYTE_BITS[b].sum(axis=-1, dtype=np.uint8, out=out)


def hash_pairs(hashes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) of the pairs i < j whose hashes differ in at most max_distance bits: every such
    pair, except that a picture with more than NEAR_NEIGHBOURS keeps its nearest (the rest still join
    its group through them: memory and time stay linear however alike a library's pictures are).

    A block of rows against the columns from the block on (the upper triangle), into buffers made once:
    fresh 20 MB arrays per block would cost more in page faults than the XOR itself."""
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = h.size
    out_i, out_j, out_d = [], [], []
    xor = np.empty((BLOCK, n), dtype=np.uint64)
    bits = np.empty((BLOCK, n), dtype=np.uint8)
    near = np.empty((BLOCK, n), dtype=bool)
    for start in range(0, n, BLOCK):
        rows = h[start : start + BLOCK]
        b, w = rows.size, n - start
        x, c, m = xor[:b, :w], bits[:b, :w], near[:b, :w]
        np.bitwise_xor(rows[:, None], h[None, start:], out=x)
        popcount(x, out=c)
        np.less_equal(c, max_distance, out=m)
        m[np.arange(b), np.arange(b)] = False  # each picture against itself
        m[:, :b] &= np.triu(np.ones((b, b), dtype=bool), 1)[:, :w]  # both offset by start: below the diagonal goes
        crowded = np.flatnonzero(m.sum(axis=1) > NEAR_NEIGHBOURS)
        for r in crowded:
            cols = np.flatnonzero(m[r])
            nearest = cols[np.argsort(c[r, cols], kind="stable")[:NEAR_NEIGHBOURS]]
            m[r] = False
            m[r, nearest] = True
        ii, jj = np.nonzero(m)
        out_i.append(ii + start)
        out_j.append(jj + start)
        out_d.append(c[ii, jj])
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d).astype(np.int64)


def time_pairs(taken: np.ndarray, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of pictures taken at most `seconds` apart, each against its next BURST_NEIGHBOURS in time."""
    known = np.flatnonzero(~np.isnan(taken))
    if known.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = known[np.argsort(taken[known], kind="stable")]
    t = taken[order]
    ends = np.searchsorted(t, t + seconds, side="right")
    ii, jj = [], []
    for k in range(1, BURST_NEIGHBOURS + 1):
        pos = np.flatnonzero(np.arange(t.size) + k < ends)
        if pos.size == 0:
            break
        ii.append(order[pos])
        jj.append(order[pos + k])
    return np.concatenate(ii), np.concatenate(jj)


def cosines(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 65536) -> np.ndarray:
    out = np.empty(i.size, dtype=np.float32)
    for s in range(0, i.size, chunk):
        a = vectors[i[s : s + chunk]].astype(np.float32)
        b = vectors[j[s : s + chunk]].astype(np.float32)
        out[s : s + chunk] = np.einsum("ij,ij->i", a, b)
    return out


def hamming(hashes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    h = hashes.astype(np.uint64)
    return popcount(h[i] ^ h[j]).astype(np.int64)


def find_groups(lib: Library, th: Thresholds) -> list[list[int]]:
    """Groups of row numbers (two or more), the suggested keeper first, largest groups first."""
    n = lib.phash.size
    pairs = []
    i, j, d = hash_pairs(lib.phash, th.near_hash)
    if i.size:
        ok = cosines(lib.vectors, i, j) >= th.near_cosine
        pairs.append((i[ok], j[ok]))
    bi, bj = time_pairs(lib.taken, th.burst_seconds)
    if bi.size:
        ok = (hamming(lib.phash, bi, bj) <= th.burst_hash) & (cosines(lib.vectors, bi, bj) >= th.burst_cosine)
        pairs.append((bi[ok], bj[ok]))
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pi, pj in pairs:
        for a, b in zip(pi.tolist(), pj.tolist(), strict=True):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for x in {int(v) for pi, pj in pairs for v in np.concatenate([pi, pj]).tolist()}:
        members.setdefault(root(x), []).append(x)
    groups = [keeper_first(m, lib) for m in members.values() if len(m) > 1]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def keeper_first(rows: list[int], lib: Library) -> list[int]:
    """The largest of the sharp ones first (sharp: near the group's sharpest; largest: pixels, then bytes, so
    a re-encoding loses to its source), then the others by the same order: a big blurred copy is not the
    one to keep, nor a small sharp thumbnail of a big sharp photo."""
    best = max(float(lib.sharpness[r]) for r in rows)

    def rank(r: int) -> tuple:
        sharp = float(lib.sharpness[r]) >= SHARP_SHARE * best
        size = int(lib.size[r]) if lib.size is not None else 0
        return (not sharp, -int(lib.pixels[r]), -size, -float(lib.sharpness[r]), r)

    return sorted(rows, key=rank)
