#!/usr/bin/env python3
"""Measures where the duplicate finder's thresholds should sit for an images model.

    python scripts/calibrate_duplicates.py [MODEL_FOLDER] [--kinds N] [--seeds N]

Makes the synthetic test sets of tests/dupe_scenes.py (near-duplicates, bursts, distinct scenes of one
kind), decodes each picture as indexing does, and prints for each kind of pair the pHash distances and
CLIP cosines: a threshold belongs between the worst pair that must group and the best one that must
not. Copy the result into app/core/images/calibration.py with how it was measured."""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(model: Path, kinds: int, seeds: int) -> dict[str, list[tuple[int, float]]]:
    from app.core.images.duplicates import popcount
    from app.core.images.encoder import ImageEncoder
    from app.core.images.likeness import likeness_of
    from app.core.images.scan import open_image
    from tests.dupe_scenes import write_distinct, write_set
    from tests.helpers import shapes_module

    enc = ImageEncoder(model, model_id=model.name)
    prepare = getattr(enc, "prepare", None) or enc.preprocess

    def sig(p: Path) -> tuple[int, np.ndarray]:
        im = open_image(str(p), enc.image_size)
        return likeness_of(im).phash, enc.embed_images([prepare(im)])[0]

    def pair(a, b) -> tuple[int, float]:
        d = int(popcount(np.array([a[0] ^ b[0]], dtype=np.int64).view(np.uint64))[0])
        return d, float(np.dot(a[1], b[1]))

    out: dict[str, list[tuple[int, float]]] = {}
    classes = shapes_module().classes()
    with tempfile.TemporaryDirectory() as tmp:
        for k, kind in enumerate(classes[:: max(1, len(classes) // kinds)][:kinds]):
            for s in range(seeds):
                files = write_set(Path(tmp) / f"{k}-{s}", kind, 100 * k + s, "2024:08:01 10:00")
                sigs = {n: sig(p) for n, p in files.items()}
                for n in ("reencoded", "resized", "cropped", "brighter", "blurred"):
                    out.setdefault(n, []).append(pair(sigs["original"], sigs[n]))
                for a, b in zip(range(3), range(1, 4), strict=True):
                    out.setdefault("burst next frame", []).append(pair(sigs[f"burst{a}"], sigs[f"burst{b}"]))
            others = [sig(p) for p in write_distinct(Path(tmp) / f"o{k}", kind, range(1000, 1000 + seeds + 4))]
            for a, b in itertools.combinations(others, 2):
                out.setdefault("distinct, same kind", []).append(pair(a, b))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(ROOT / "tests" / "fixtures" / "tiny-clip"))
    ap.add_argument("--kinds", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'pairs':24} {'n':>4} {'hash min':>8} {'hash max':>8} {'cos min':>8} {'cos max':>8}")
    for name, rows in measure(Path(args.model), args.kinds, args.seeds).items():
        d = [r[0] for r in rows]
        c = [r[1] for r in rows]
        print(f"{name:24} {len(rows):4d} {min(d):8d} {max(d):8d} {min(c):8.3f} {max(c):8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
