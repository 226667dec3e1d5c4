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
        q100k = _query_latency(100_000)
        q1m = _query_latency(1_000_000)
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
        "query_100k": q100k,
        "query_1m": q1m,
        "query_goal": "<= 1.2x bare, memory <= 1.1x the float16 matrix",
        "gui_lag_p99_ms": lag["p99"],
        "gui_lag_max_ms": lag["max"],
        "gui_lag_goal": "p99 <= 16",
    }


def _gui_lag(photos: Path) -> dict:
    from bench_common import LagProbe, wait_for
    from PySide6.QtWidgets import QApplication

    from app.core.models.store import ModelStore
    from app.core.settings import load_settings, save_settings
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    ModelStore().import_path(ROOT / "tests" / "fixtures" / "tiny-clip", "images", "tiny-clip", mode="link")
    settings = load_settings()
    settings.default_models["images"] = "tiny-clip"
    save_settings(settings)
    window = MainWindow(load_settings())
    window.show()
    while not window.panes:
        app.processEvents()
    pane = window.panes["images"]
    window.show_pane("images")
    probe = LagProbe()
    probe.start()
    pane.images.add_folder(str(photos))
    pane.start_index()
    wait_for(pane.index_finished)
    lag = probe.stop()
    window.close()
    window.stop_workers()  # close() does not wait for the workers; join them before exit
    return lag
