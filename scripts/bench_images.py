"""`bench.py images`: indexing, re-indexing and query speed against the raw libraries."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

N_IMAGES = 1200
ROOT = Path(__file__).resolve().parents[1]


def _library(folder: Path) -> list[Path]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.helpers import shapes_module

    shapes = shapes_module()
    rng = random.Random(1)
    pairs = shapes.classes()
    paths = []
    for i in range(N_IMAGES):
        colour, shape = pairs[i % len(pairs)]
        sub = folder / f"set{i // 200}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{colour}-{shape}-{i}.jpg"
        shapes.render(colour, shape, rng, size=256).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def _query_latency(n: int, dim: int = 512, repeats: int = 5) -> dict:
    from app.core.images.index import score_matrix

    rng = np.random.default_rng(0)
    mat = rng.standard_normal((n, dim), dtype=np.float32).astype(np.float16)  # writable, as the index holds it
    q = rng.standard_normal(dim).astype(np.float32)

    def ours():
        scores = score_matrix(mat, q)
        best = np.argpartition(-scores, 49)[:50]
        return best[np.argsort(-scores[best])]

    def bare_f16():
        scores = mat @ q.astype(np.float16)
        best = np.argpartition(-scores, 49)[:50]
        return best[np.argsort(-scores[best])]

    def timed(fn):
        fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    tracemalloc.start()
    ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_ours, t_bare = timed(ours), timed(bare_f16)
    mat32 = mat.astype(np.float32)

    def bare_f32():
        scores = mat32 @ q
        best = np.argpartition(-scores, 49)[:50]
        return best[np.argsort(-scores[best])]

    t_f32 = timed(bare_f32)
    return {
        "ours_ms": round(t_ours * 1000, 2),
        "bare_f16_ms": round(t_bare * 1000, 2),
        "bare_f32_ms": round(t_f32 * 1000, 2),
        "ratio_vs_bare_f16": round(t_ours / t_bare, 3),
        "ratio_vs_bare_f32": round(t_ours / t_f32, 3),
        "memory_vs_f16_matrix": round((mat.nbytes + peak) / mat.nbytes, 3),
    }


HUGE_SIDE, HUGE_COUNT = 10_900, 6
PEAK_RSS_CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from app.core.images.encoder import ImageEncoder
from app.core.images.index import ImageIndex, IndexSummary, decode_workers
encoder = ImageEncoder(Path(sys.argv[1]) / "tests" / "fixtures" / "tiny-clip", model_id="tiny-clip")
index = ImageIndex(Path(sys.argv[3]))
index.add_folder(sys.argv[2])
summary = [s for s in index.index(encoder, "bench") if isinstance(s, IndexSummary)][0]
kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(summary.embedded, sum(summary.skipped.values()), decode_workers(), kb)
"""


def huge_pictures_peak_rss(code_root: Path = ROOT) -> dict:
    """Peak RSS of a process that indexes six 10,900 x 10,900 PNGs, against the same process indexing
    an empty folder (the model and libraries alone). code_root: which checkout's app to measure."""
    import shutil
    import subprocess
    import sys

    from PIL import Image, ImageDraw

    with tempfile.TemporaryDirectory() as tmp:
        huge, empty = Path(tmp) / "huge", Path(tmp) / "empty"
        huge.mkdir()
        empty.mkdir()
        im = Image.linear_gradient("L").resize((HUGE_SIDE, HUGE_SIDE)).convert("RGB")
        ImageDraw.Draw(im).ellipse((2000, 2000, 8000, 8000), fill=(200, 40, 40))
        im.save(huge / "huge-0.png", compress_level=1)
        del im
        for i in range(1, HUGE_COUNT):
            shutil.copy(huge / "huge-0.png", huge / f"huge-{i}.png")

        def child(folder: Path, db: str) -> list[int]:
            out = subprocess.run([sys.executable, "-c", PEAK_RSS_CHILD, str(code_root), str(folder),
                                  str(Path(tmp) / db)], capture_output=True, text=True, check=True)
            return [int(x) for x in out.stdout.split()]

        embedded, skipped, workers, huge_kb = child(huge, "huge.sqlite3")
        _, _, _, base_kb = child(empty, "empty.sqlite3")
    return {
        "pictures": f"{HUGE_COUNT} PNGs of {HUGE_SIDE} x {HUGE_SIDE}",
        "embedded": embedded,
        "skipped": skipped,
        "decode_threads": workers,
        "peak_rss_mb": round(huge_kb / 1024),
        "baseline_rss_mb (empty folder)": round(base_kb / 1024),
        "peak_over_baseline_mb": round((huge_kb - base_kb) / 1024),
        "one_picture_decoded_mb": round(HUGE_SIDE * HUGE_SIDE * 3 / 2**20),
    }


def bench_images_memory(args) -> dict:
    return {"suite": "images-memory", **huge_pictures_peak_rss()}


def bench_images(args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.core.images.encoder import ImageEncoder
        from app.core.images.index import ImageIndex, IndexSummary, decode_workers
        from app.core.images.scan import open_image

        photos = Path(home) / "photos"
        paths = _library(photos)
        encoder = ImageEncoder(ROOT / "tests" / "fixtures" / "tiny-clip", model_id="tiny-clip")
        size = encoder.image_size

        # (b) decode and preprocess only, with the same pool the indexer uses
        workers = decode_workers()
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tensors = list(pool.map(lambda p: encoder.prepare(open_image(str(p), size)), paths))
        decode_rate = len(paths) / (time.perf_counter() - t)
        # (a) the model only, on pre-decoded batches
        t = time.perf_counter()
        for i in range(0, len(tensors), encoder.batch_size):
            encoder.embed_images(tensors[i : i + encoder.batch_size])
        model_rate = len(paths) / (time.perf_counter() - t)
        del tensors

        index = ImageIndex()
        index.add_folder(photos)
        t = time.perf_counter()
        full = [s for s in index.index(encoder, "bench") if isinstance(s, IndexSummary)][0]
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        again = [s for s in index.index(encoder, "bench") if isinstance(s, IndexSummary)][0]
        reindex_s = time.perf_counter() - t
        assert full.embedded == len(paths) and again.embedded == 0
        e2e_rate = len(paths) / full_s
        lag = _gui_lag(photos)
        meta = _metadata_cost(encoder)
        q100k = _query_latency(100_000)
        q1m = _query_latency(1_000_000)
    huge = huge_pictures_peak_rss()
    slower = min(decode_rate, model_rate)
    return {
        "suite": "images",
        "images": len(paths),
        "decode_preprocess_per_s": round(decode_rate, 1),
        "model_only_per_s": round(model_rate, 1),
        "end_to_end_per_s": round(e2e_rate, 1),
        "index_ratio_vs_slower": round(e2e_rate / slower, 3),
        "index_goal": ">= 0.8",
        "reindex_unchanged_s": round(reindex_s, 3),
        "reindex_ratio": round(reindex_s / full_s, 4),
        "reindex_goal": "<= 0.02",
        "metadata_cost": meta,
        "query_100k": q100k,
        "query_1m": q1m,
        "query_goal": "<= 1.2x bare, memory <= 1.1x the float16 matrix",
        "huge_pictures": huge,
        "gui_lag_p99_ms": lag["p99"],
        "gui_lag_max_ms": lag["max"],
        "gui_lag_goal": "p99 <= 16",
    }


def _metadata_cost(encoder) -> dict:
    from bench_photo_meta import metadata_cost, metadata_cost_real_size

    return {**metadata_cost(encoder), "real_size_model": metadata_cost_real_size()}


def _gui_lag(photos: Path) -> dict:
    from bench_common import LagProbe, close_window, open_pane, wait_for

    from app.core.models.store import ModelStore
    from app.core.settings import load_settings, save_settings

    ModelStore().import_path(ROOT / "tests" / "fixtures" / "tiny-clip", "images", "tiny-clip", mode="link")
    settings = load_settings()
    settings.default_models["images"] = "tiny-clip"
    save_settings(settings)
    window, pane = open_pane("images")
    probe = LagProbe()
    probe.start()
    pane.images.add_folder(str(photos))
    pane.start_index()
    wait_for(pane.index_finished)
    lag = probe.stop()
    close_window(window)
    return lag
