"""Part of `bench.py images`: what reading photo metadata (EXIF date, camera, GPS and its place) costs
indexing. The same pictures are indexed into fresh indexes with and without it, in turns; the ratio of
the medians is the cost (goal <= 1.05). Alone, at a small size: python scripts/bench_photo_meta.py 40

Measured twice: with the tiny test CLIP, whose model time is almost nothing (so every other cost shows
at its largest), and with a ViT-B-32 of random weights, which computes exactly what the catalog's
ViT-B-32 does (no real weights install offline; the cost measured does not depend on them)."""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITIES = [(38.7107, -9.1380), (48.8566, 2.3522), (35.6812, 139.7671), (40.7580, -73.9855), (-33.86, 151.21)]


def _near(city: tuple[float, float], rng: random.Random) -> tuple[float, float]:
    """A point within a few km of a city's centre: photos taken around it, none at the same spot."""
    return round(city[0] + rng.uniform(-0.05, 0.05), 5), round(city[1] + rng.uniform(-0.05, 0.05), 5)


def _photos(folder: Path, n: int, side: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import shapes_module
    from tests.photo_exif import Shot, exif_for

    shapes = shapes_module()
    rng = random.Random(2)
    pairs = shapes.classes()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        colour, shape = pairs[i % len(pairs)]
        where = _near(CITIES[i % len(CITIES)], rng) if i % 4 else None  # a quarter without GPS, as phones' screenshots
        shot = Shot("x", f"20{10 + i % 14}:0{1 + i % 9}:1{i % 10} 12:00:00", where, "+01:00")
        shapes.render(colour, shape, rng, size=side).convert("RGB").save(folder / f"{i}.jpg", "JPEG", quality=90,
                                                                          exif=exif_for(shot))


def metadata_cost(encoder, n: int = 600, runs: int = 7, side: int = 512) -> dict:
    from app.core.images import places
    from app.core.images.index import ImageIndex, IndexSummary

    t = time.perf_counter()
    places.gazetteer()  # once per process, on the first photo with GPS: said apart
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        _photos(photos, n, side)
        times: dict[bool, list[float]] = {False: [], True: []}
        # Two rounds first, not counted: the first index runs of a process are the slowest (caches,
        # allocator), and a run-to-run spread of +-10% on 2 cores is why the medians of 7 pairs are kept.
        for run in range(-2, runs):
            for read_meta in ((False, True) if run % 2 == 0 else (True, False)):
                index = ImageIndex(Path(tmp) / f"{run}-{read_meta}.sqlite3", read_meta=read_meta)
                index.add_folder(photos)
                t = time.perf_counter()
                summary = [s for s in index.index(encoder, "bench") if isinstance(s, IndexSummary)][0]
                if run >= 0:
                    times[read_meta].append(time.perf_counter() - t)
                index.close()
                assert summary.embedded == n, summary
    without, with_meta = statistics.median(times[False]), statistics.median(times[True])
    return {
        "pictures": f"{n} JPEGs of {side} px with EXIF (3 in 4 with GPS)",
        "without_metadata_s": round(without, 3),
        "with_metadata_s": round(with_meta, 3),
        "ratio": round(with_meta / without, 3),
        "runs": f"median of {runs} each, alternating",
        "goal": "<= 1.05",
        "gazetteer_load_s (once)": round(load_s, 3),
    }


def vit_b32_random(folder: Path):
    """An ImageEncoder over a ViT-B-32 with random weights, saved as a hub folder (open_clip_config.json and
    open_clip_model.safetensors) and loaded through the same path as a downloaded one."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    from app.core.images.encoder import ImageEncoder

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": open_clip.get_model_config("ViT-B-32"),
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}}))
    del model
    return ImageEncoder(folder, model_id="vit-b-32-random")


def metadata_cost_real_size(n: int = 80, runs: int = 7) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        encoder = vit_b32_random(Path(tmp) / "vit-b-32")
        out = metadata_cost(encoder, n, runs)  # 52 ms a picture here: (2 + 7) x 2 runs of 80, 80 s
    return {"model": "ViT-B-32, random weights (the catalog model's computation)", **out}


if __name__ == "__main__":
    import json
    import os

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        from app.core.images.encoder import ImageEncoder

        clip = ImageEncoder(ROOT / "tests" / "fixtures" / "tiny-clip", model_id="tiny-clip")
        print(json.dumps(metadata_cost(clip, int(sys.argv[1]) if len(sys.argv) > 1 else 600), indent=2))
        if "--real-size" in sys.argv:
            print(json.dumps(metadata_cost_real_size(), indent=2))
