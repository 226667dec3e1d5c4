"""`bench.py gpu`: the accelerated paths, our engines against the bare libraries on the same device.

Runs without Qt, so it can run on a bare GPU box. Each part reports what the app chose
(device, layers, precision, and any fallback notice) and times ours against the bare
library on the same input, side by side. On a machine with no GPU it still runs and
says which device it used. Models: the starters, or HEARTH_BENCH_GGUF, HEARTH_BENCH_WHISPER
(a faster-whisper folder) and HEARTH_BENCH_WAV (speech to transcribe; espeak-ng otherwise).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STORY = "Continue the story of the old lighthouse keeper, the storm and the ship, in great detail. "


def _starter(model_id: str) -> Path:
    from app.core.models.starter import provision
    from app.core.models.store import ModelStore

    store = ModelStore()
    provision(store)
    return store.path_of(store.get(model_id))


# --- chat ----------------------------------------------------------------------------


def _bare_llama(path: Path, prompt: str, gpu_layers: int, n_ctx: int, max_tokens: int) -> dict:
    from bench_chat import bare_generate

    from app.core.hardware import physical_cores

    # The app's thread count; llama-cpp-python's default is half the logical CPUs.
    return bare_generate(path, prompt, physical_cores(), n_ctx, max_tokens, gpu_layers)


def _ours_llama(path: Path, messages, n_ctx: int, max_tokens: int) -> dict:
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.events import ChatStats
    from app.core.chat.remote import open_chat_engine

    engine = open_chat_engine(path, LoadOptions(n_ctx=n_ctx), "bench")  # in its own process, as in the app
    params = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=max_tokens)
    stats = [x for x in engine.stream(messages, params) if isinstance(x, ChatStats)][0]
    out = {"tok_s": stats.tokens_per_second, "ttft_s": stats.time_to_first_token_s,
           "tokens": stats.completion_tokens, "gpu_layers": engine.gpu_layers, "why": engine.device_reason,
           "notices": engine.notices, "prompt": engine.render(messages)}
    engine.close()
    return out


def bench_chat_gpu(runs: int) -> dict:
    from app.core.chat.templates import Message
    from app.core.models.gguf_header import read_gguf

    path = Path(os.environ.get("HEARTH_BENCH_GGUF") or _starter("gemma-3-270m-q4_k_m"))
    n_ctx, max_tokens = 4096, 256
    long = [Message("user", STORY * 70)]  # ~1,500 prompt tokens: prefill speed shows in TTFT
    short = [Message("user", STORY)]
    ours, bare, ours_long, bare_long = [], [], [], []
    for _ in range(runs):  # alternated, greedy: the same tokens both ways
        ours.append(_ours_llama(path, short, n_ctx, max_tokens))
        bare.append(_bare_llama(path, ours[-1]["prompt"], -1 if ours[-1]["gpu_layers"] else 0, n_ctx, max_tokens))
        ours_long.append(_ours_llama(path, long, n_ctx, 16))
        bare_long.append(_bare_llama(path, ours_long[-1]["prompt"], -1 if ours_long[-1]["gpu_layers"] else 0,
                                     n_ctx, 16))
    cpu = _bare_llama(path, ours[-1]["prompt"], 0, n_ctx, max_tokens)
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    info = read_gguf(path)
    return {
        "model": f"{path.name} ({info.block_count} layers)",
        "gpu_layers_chosen": ours[0]["gpu_layers"],
        "why": ours[0]["why"],
        "notices": "; ".join(ours[0]["notices"]) or "none",
        "decode_tok_s_ours": round(med(ours, "tok_s"), 1),
        "decode_tok_s_bare": round(med(bare, "tok_s"), 1),
        "decode_ratio": round(med(ours, "tok_s") / med(bare, "tok_s"), 3),
        "tokens_compared": f"{ours[0]['tokens']} vs {bare[0]['tokens']}",
        "ttft_1500_prompt_s_ours": round(med(ours_long, "ttft_s"), 4),
        "ttft_1500_prompt_s_bare": round(med(bare_long, "ttft_s"), 4),
        "ttft_ratio": round(med(ours_long, "ttft_s") / med(bare_long, "ttft_s"), 3),
        "decode_tok_s_cpu_only_bare": round(cpu["tok_s"], 1),
        "speedup_vs_cpu": round(med(ours, "tok_s") / cpu["tok_s"], 2),
    }


# --- images -----------------------------------------------------------------------


def _hub_folder(arch: str, folder: Path) -> Path:
    """A randomly initialised OpenCLIP model saved as a hub folder: real shapes, real speed."""
    import json

    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model = open_clip.create_model(arch)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    cfg = {"model_cfg": open_clip.get_model_config(arch),
           "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}}
    (folder / "open_clip_config.json").write_text(json.dumps(cfg))
    return folder


def _embed_rates(folder: Path, arch: str, runs: int) -> tuple[dict, object]:
    """Our encoder's embed (uint8 pixels, normalised in the batch) against open_clip's own model
    call on its own preprocessed tensors; the same 128 pictures, the same device."""
    import open_clip
    import torch

    from app.core.images.encoder import ImageEncoder

    ours = ImageEncoder(folder, model_id=arch)
    dev, prec = ours.choice.device, ours.choice.detail
    bare, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + str(folder), device=dev,
                                                                precision=prec)
    bare.eval()
    dtype = torch.float16 if prec == "fp16" else torch.float32
    rng = np.random.default_rng(0)
    from PIL import Image

    pictures = [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(128)]
    pixels = [ours.prepare(p) for p in pictures]
    tensors = torch.stack([preprocess(p) for p in pictures])

    def bare_embed():
        with torch.inference_mode():
            return bare.encode_image(tensors.to(dev, dtype), normalize=True).float().cpu().numpy()

    ours.embed_images(pixels), bare_embed()  # warm-up (kernels, cuDNN autotune)
    t_ours, t_bare = [], []
    for _ in range(max(3, runs)):
        t = time.perf_counter()
        a = ours.embed_images(pixels)
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = bare_embed()
        t_bare.append(time.perf_counter() - t)
    ref = ImageEncoder(folder, device="cpu").embed_pil(pictures[:16])
    rate_ours, rate_bare = 128 / statistics.median(t_ours), 128 / statistics.median(t_bare)
    return {"device": f"{dev} {prec}", "model_per_s_ours": round(rate_ours, 1),
            "model_per_s_bare": round(rate_bare, 1), "ratio": round(rate_ours / rate_bare, 3),
            "min_cosine_vs_bare": round(float(np.min(np.sum(a * b, axis=1))), 4),
            "min_cosine_vs_cpu_fp32": round(float(np.min(np.sum(a[:16] * ref, axis=1))), 4)}, ours


def _decode_rates(encoder, paths: list[Path], threads: tuple[int, ...]) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from app.core.images.scan import open_image

    def one(p):
        return encoder.prepare(open_image(str(p), encoder.image_size))

    out = {}
    for w in threads:
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=w) as pool:
            list(pool.map(one, paths))
        out[f"decode_only_per_s_{w}_threads"] = round(len(paths) / (time.perf_counter() - t), 1)
    return out


def bench_images_gpu(runs: int, tmp: Path) -> dict:
    from app.core.images.index import ImageIndex, IndexSummary, decode_workers

    out: dict = {}
    for arch in ("tiny-clip", "ViT-B-32"):
        folder = ROOT / "tests" / "fixtures" / "tiny-clip" if arch == "tiny-clip" else _hub_folder(arch, tmp / arch)
        out[arch], encoder = _embed_rates(folder, arch, runs)
        if arch == "ViT-B-32":
            photos = tmp / "photos"
            n = _photos(photos, 1500)
            index = ImageIndex(tmp / "index.db")
            index.add_folder(photos)
            t = time.perf_counter()
            summary = [s for s in index.index(encoder, "bench") if isinstance(s, IndexSummary)][0]
            e2e = summary.embedded / (time.perf_counter() - t)
            index.close()
            workers = decode_workers()
            decode = _decode_rates(encoder, sorted(photos.rglob("*.jpg")), tuple(sorted({4, workers, 16})))
            same = decode[f"decode_only_per_s_{workers}_threads"]
            out[arch].update({"index_end_to_end_per_s": round(e2e, 1), "index_images": n,
                              "decode_workers": workers, **decode, "index_vs_decode_only": round(e2e / same, 3)})
    return out


def _photos(folder: Path, n: int) -> int:
    import random
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.helpers import shapes_module

    shapes, rng = shapes_module(), random.Random(1)
    pairs = shapes.classes()
    for i in range(n):
        colour, shape = pairs[i % len(pairs)]
        sub = folder / f"set{i // 250}"
        sub.mkdir(parents=True, exist_ok=True)
        shapes.render(colour, shape, rng, size=640).save(sub / f"{colour}-{shape}-{i}.jpg", "JPEG", quality=90)
    return n


# --- speech -----------------------------------------------------------------------


def bench_speech_gpu(runs: int, tmp: Path) -> dict:
    from faster_whisper import WhisperModel

    from app.core.speech.transcriber import TranscribeOptions, Transcriber, transcribe_all

    model_dir = Path(os.environ.get("HEARTH_BENCH_WHISPER") or _starter("whisper-base"))
    wav = os.environ.get("HEARTH_BENCH_WAV")
    if not wav:
        from bench_speech import TEXT

        wav = str(tmp / "speech.wav")
        subprocess.run(["espeak-ng", "-s", "150", "-w", wav, TEXT * 2], check=True)
    t = time.perf_counter()
    ours = Transcriber(model_dir)
    load_s = time.perf_counter() - t
    opts = TranscribeOptions(beam_size=5, vad_filter=True)
    bare = WhisperModel(str(model_dir), device=ours.choice.device, compute_type=ours.choice.detail)

    def run_bare():
        segments, info = bare.transcribe(wav, beam_size=5, vad_filter=True, condition_on_previous_text=False)
        return [s.text for s in segments], info.duration

    transcribe_all(ours, Path(wav), opts), run_bare()  # warm-up
    t_ours, t_bare = [], []
    for _ in range(max(3, runs)):
        t = time.perf_counter()
        words = " ".join(s.text for s in transcribe_all(ours, Path(wav), opts)).split()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        _, duration = run_bare()
        t_bare.append(time.perf_counter() - t)
    a, b = statistics.median(t_ours), statistics.median(t_bare)
    return {"device": f"{ours.choice.device} {ours.choice.detail}", "why": ours.choice.reason,
            "notices": "; ".join(ours.notices) or "none", "load_s": round(load_s, 2),
            "audio_s": round(duration, 1), "ours_s": round(a, 3), "bare_s": round(b, 3), "ratio": round(a / b, 3),
            "real_time_factor": round(a / duration, 4), "words": len(words)}


def bench_gpu(args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("HEARTH_HOME", home)
        from app.core import hardware

        report = hardware.detect()
        result: dict = {"suite": "gpu", "gpus": ", ".join(g.name for g in report.gpus) or "none",
                        "runtimes": {r.runtime: f"{r.device}: {r.reason}" for r in report.runtimes}}
        parts = os.environ.get("HEARTH_BENCH_PARTS", "chat,images,speech").split(",")
        # Chat first: its bare in-process baseline must run before this process imports torch
        # (a CUDA llama.cpp and torch in one process crashed on an H100; see app/core/chat/remote.py).
        for name, fn in (("chat", None), ("images", bench_images_gpu), ("speech", bench_speech_gpu)):
            if name not in parts:
                continue
            try:
                if name == "chat":
                    result[name] = bench_chat_gpu(min(args.runs, 3))
                else:
                    result[name] = fn(min(args.runs, 5), Path(home))
            except Exception as exc:  # noqa: BLE001 - one part failing still reports the others
                result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return result
