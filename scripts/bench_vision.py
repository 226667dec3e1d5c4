"""`bench.py vision`: send-to-first-token for one picture, Hearth against bare llama-cpp-python.

Hearth: the picture file is decoded and shrunk in this process (app.core.chat.pictures), sent as bytes
to the model's own process (app.core.opening.open_chat, as the app does) and evaluated there
through MTMDChatHandler's mtmd context. Bare: llama-cpp-python's ``Llama`` with ``MTMDChatHandler``
and ``create_chat_completion``, given the same file as a data URI. Same model files, same threads,
one token each, a different picture every run (so neither side reuses a cached picture), 5 runs
interleaved. Then the GUI lag while the Chat pane sends a picture.

Tiny fixture by default; a real model with HEARTH_BENCH_VISION_GGUF and HEARTH_BENCH_VISION_MMPROJ.
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is in this picture? Answer in one sentence."


def _files() -> tuple[Path, Path, str]:
    gguf, mmproj = os.environ.get("HEARTH_BENCH_VISION_GGUF"), os.environ.get("HEARTH_BENCH_VISION_MMPROJ")
    if bool(gguf) != bool(mmproj):
        raise SystemExit("bench.py vision: set both HEARTH_BENCH_VISION_GGUF and HEARTH_BENCH_VISION_MMPROJ")
    if gguf:
        return Path(gguf), Path(mmproj), "given"
    fixture = ROOT / "tests" / "fixtures" / "tiny-vision"
    return fixture / "tiny-gemma3-vision-f16.gguf", fixture / "mmproj-tiny-gemma3-vision-f16.gguf", "tiny fixture"


def _photos(folder: Path, n: int) -> list[Path]:
    """Distinct camera-sized JPEGs: smooth light, a few shapes, sensor noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:960, 0:1280]
        base = np.stack([xx / 1280 * 255, yy / 960 * 255, np.full_like(xx, 40 + 40 * i)], -1)
        noisy = (base + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(noisy)
        draw = ImageDraw.Draw(im)
        for _ in range(6):
            x, y = (int(v) for v in rng.integers(0, 1100, 2))
            draw.ellipse((x, y, x + 150, y + 120), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        path = folder / f"photo-{i}.jpg"
        im.save(path, quality=90)
        out.append(path)
    return out


def _bare(model: Path, mmproj: Path, threads: int, n_ctx: int):
    import llama_cpp
    from llama_cpp.llama_chat_format import MTMDChatHandler

    from app.core.chat.vision import route_mtmd_logs

    route_mtmd_logs()  # the same quiet logs on both sides
    handler = MTMDChatHandler(clip_model_path=str(mmproj), verbose=False, use_gpu=False)
    llm = llama_cpp.Llama(str(model), chat_handler=handler, n_ctx=n_ctx, n_threads=threads,
                          n_threads_batch=threads, n_batch=512, n_gpu_layers=0, swa_full=True, verbose=False)

    def ask(photo: Path) -> float:
        uri = "data:image/jpeg;base64," + base64.b64encode(photo.read_bytes()).decode()
        started = time.perf_counter()
        for _ in llm.create_chat_completion(
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                                   {"type": "text", "text": QUESTION}]}],
            max_tokens=1, temperature=0.0, stream=True, seed=0,
        ):
            pass
        return time.perf_counter() - started

    return llm, ask


def _hearth(model: Path, mmproj: Path, threads: int, n_ctx: int):
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.pictures import prepare, side_for_projector
    from app.core.chat.templates import Message
    from app.core.opening import open_chat

    engine = open_chat(str(model), LoadOptions(n_ctx=n_ctx, n_threads=threads, gpu_layers=0, projector=str(mmproj)))
    side = side_for_projector(mmproj)
    params = SamplingParams(temperature=0.0, max_tokens=1, seed=0)

    def ask(photo: Path) -> float:
        started = time.perf_counter()
        picture = prepare(photo, photo.name, side)  # decode, upright, shrink: part of sending
        for _ in engine.stream([Message("user", QUESTION, (picture.data,))], params):
            pass
        return time.perf_counter() - started

    return engine, ask


def bench_vision(args) -> dict:
    from bench_chat import _off_main

    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.core.hardware import physical_cores

        model, mmproj, source = _files()
        threads, n_ctx = physical_cores(), 4096
        runs = max(1, args.runs)
        photos = _photos(Path(home), runs + 1)
        engine, ours = _hearth(model, mmproj, threads, n_ctx)
        llm, bare = _off_main(_bare, model, mmproj, threads, n_ctx)
        ours(photos[-1])  # warm both (graphs, file cache) on a picture not timed
        _off_main(bare, photos[-1])
        hearth_s, bare_s = [], []
        for photo in photos[:runs]:  # interleaved, so drift on a busy machine hits both alike
            hearth_s.append(ours(photo))
            bare_s.append(_off_main(bare, photo))
        engine.close()
        llm.close()
        lag = _gui_lag(model, mmproj, photos[0])
    h, b = statistics.median(hearth_s), statistics.median(bare_s)
    return {
        "suite": "vision",
        "model": f"{model.name} + {mmproj.name} ({source})",
        "threads": threads,
        "runs": runs,
        "send_to_first_token_ms_hearth": round(h * 1000, 1),
        "send_to_first_token_ms_bare": round(b * 1000, 1),
        "hearth_runs_ms": [round(x * 1000, 1) for x in hearth_s],
        "bare_runs_ms": [round(x * 1000, 1) for x in bare_s],
        "ratio": round(h / b, 3),
        "goal": "ratio <= 1.05",
        "met": h / b <= 1.05,
        "gui_lag_p99_ms": lag["p99"],
        "gui_lag_max_ms": lag["max"],
        "gui_lag_goal": "p99 <= 16",
    }


def _gui_lag(model: Path, mmproj: Path, photo: Path) -> dict:
    """The real Chat pane attaches and sends a picture while a 5 ms timer measures its own lateness."""
    from bench_chat import _wait
    from bench_common import LagProbe, close_window, open_pane

    from app.core.models.store import ModelStore

    store = ModelStore()
    if store.get("bench-vision") is None:
        store.import_path(model, "chat", "bench-vision", mode="link", projector=mmproj)
    window, pane = open_pane("chat", "bench-vision")
    pane.settings_panel.max_tokens.setValue(32)
    pane.settings_panel.seed.setText("5")
    pane.ensure_model()
    probe = LagProbe()
    probe.start()
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    pane.tray.changed.connect(loop.quit)
    pane.tray.failed.connect(loop.quit)
    pane.attach_files([photo])  # decoded on the pictures worker
    loop.exec()
    pane.input.setPlainText(QUESTION)
    pane.send()
    _wait(pane.job)
    lag = probe.stop()
    close_window(window)
    return lag
