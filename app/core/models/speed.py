"""How fast will a model run here? Estimates calibrated by what this machine has measured.

Chat decoding is memory-bandwidth-bound: each token reads every weight once, so
tokens/s scales with 1 / file size. The calibration is the starter model's own
measured decode speed here (recorded after a real reply); layers on a GPU read
from faster memory. Whisper's real-time factor and CLIP's images/s scale with
model size from a measured run of the same kind: a whole file transcribed or a
folder indexed on the CPU reports the model's own time through the hook that
app.core.models.opening gives each engine, so the GUI and the CLI both calibrate.
Without a measurement yet, a rough guess from the core count is used and said to be one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core import paths
from app.core.fileio import atomic_write_json, read_json_regular
from app.core.models.fit import LAYERS_GUESS

log = logging.getLogger(__name__)

COMFORTABLE = {"chat": 10.0, "speech": 0.5, "images": 5.0}  # tok/s at least, RTF at most, images/s at least
UNITS = {"chat": "tokens/s", "speech": "× real time", "images": "images/s"}
# Guesses, never measured here (only CPU runs calibrate): the memory bandwidth (bytes/s) a GPU's
# layers get, and how much faster Whisper and CLIP run on an NVIDIA GPU. Speeds from them say "guessed".
GPU_BANDWIDTH = {"nvidia": 300e9, "apple": 100e9}
GPU_SPEEDUP = 10
CPU_BANDWIDTH_PER_CORE = 4e9  # a rough guess, only until this machine has measured itself
BASE_RTF_SIZE = 147_882_941  # Whisper base (the starter) at RTF 0.4 on 2 cores, before a measurement
BASE_CLIP_SIZE = 605_143_920  # ViT-B-32 at about 3 images/s per core, before a measurement
# Shorter runs are mostly start-up and warm-up: they would calibrate the wrong thing.
MIN_AUDIO_S = 10.0
MIN_IMAGES = 16


@dataclass
class Speed:
    value: float
    kind: str
    comfortable: bool
    how: str

    def text(self) -> str:
        if self.kind == "speech":
            return f"~{self.value:.2f}× real time"
        return f"~{self.value:.0f} {UNITS[self.kind]}" if self.value >= 20 else f"~{self.value:.1f} {UNITS[self.kind]}"


def calibration_file():
    return paths.cache_dir() / "speed-calibration.json"


def load_calibration() -> dict:
    """{kind: {"model": id, "size": bytes, "value": measured}}; a damaged file counts as none."""
    try:
        data = read_json_regular(calibration_file())
    except (OSError, ValueError):
        return {}
    out = {}
    if isinstance(data, dict):
        for kind, rec in data.items():
            if (kind in COMFORTABLE and isinstance(rec, dict) and isinstance(rec.get("size"), int)
                    and rec["size"] > 0 and isinstance(rec.get("value"), (int, float)) and rec["value"] > 0):
                out[kind] = {"model": str(rec.get("model", ""))[:200], "size": rec["size"],
                             "value": float(rec["value"])}
    return out


def record(kind: str, model_id: str, size: int, value: float, on_gpu: bool = False) -> None:
    """Keeps a measurement made on this machine (CPU runs only: they calibrate the CPU estimate)."""
    if kind not in COMFORTABLE or on_gpu or size <= 0 or value <= 0:
        return
    data = load_calibration()
    data[kind] = {"model": model_id, "size": int(size), "value": float(value)}
    try:
        atomic_write_json(calibration_file(), data)
    except OSError as exc:
        log.warning("could not keep the speed measurement: %s", exc)


def record_transcription(model_id: str, size: int, seconds: float, audio_s: float, on_gpu: bool) -> None:
    """A whole file's decode time (the model's own work: no wait for a lane, a slow reader or the
    file's decoding) over the audio's length: the real-time factor of this Whisper model here."""
    if audio_s >= MIN_AUDIO_S and seconds > 0:
        record("speech", model_id, size, seconds / audio_s, on_gpu)


def record_indexing(model_id: str, size: int, seconds: float, images: int, on_gpu: bool) -> None:
    """Pictures embedded over the seconds the model spent embedding them: images/s of this CLIP here.
    Decoding runs in a pool beside the model and costs the same whatever the model's size."""
    if images >= MIN_IMAGES and seconds > 0:
        record("images", model_id, size, images / seconds, on_gpu)


def _cores(hardware) -> int:
    return max(1, int(getattr(hardware.cpu, "physical_cores", 0) or 1))


def basis(kind: str, hardware, cal: dict | None = None) -> str:
    """How the CPU estimates of ``kind`` are made here: from which measurement, or a guess from what."""
    cal = cal if cal is not None else load_calibration().get(kind)
    if not cal:
        cores = _cores(hardware)
        todo = {"chat": "chat once with any model", "speech": f"transcribe a file of {MIN_AUDIO_S:.0f} s or more",
                "images": f"index {MIN_IMAGES} or more pictures"}[kind]
        return f"a rough guess from {cores} CPU cores ({todo} to measure this machine)"
    if kind == "chat":
        return f"scaled from {cal['model']}'s measured {cal['value']:.0f} tokens/s here by file size"
    if kind == "speech":
        rtf = f"{cal['value']:.2f}" if cal["value"] >= 0.1 else f"{cal['value']:.3f}"
        return f"scaled by size from {cal['model']}'s measured {rtf}× real time here"
    rate = f"{cal['value']:.0f}" if cal["value"] >= 20 else f"{cal['value']:.1f}"
    return f"scaled by size from {cal['model']}'s measured {rate} images/s here (the model's own time)"


def estimate(kind: str, size: int, hardware, fit=None) -> Speed:
    cal = load_calibration().get(kind)
    cores = _cores(hardware)
    how = basis(kind, hardware, cal or {})
    if kind == "chat":
        if cal:
            cpu_bw = cal["value"] * cal["size"]  # bytes read per second while decoding, measured
        else:
            cpu_bw = CPU_BANDWIDTH_PER_CORE * cores
        fraction = 0.0
        if fit is not None and fit.verdict in ("gpu", "partial"):
            fraction = 1.0 if fit.verdict == "gpu" else min(1.0, fit.gpu_layers / (fit.layers or LAYERS_GUESS))
        gpu_bw = next((GPU_BANDWIDTH[g.vendor] for g in hardware.gpus if g.vendor in GPU_BANDWIDTH), None)
        if fraction and gpu_bw:
            seconds = (1 - fraction) * size / cpu_bw + fraction * size / gpu_bw
            how += f", {fraction:.0%} of it on the GPU at a guessed {gpu_bw / 1e9:.0f} GB/s"
        else:
            seconds = size / cpu_bw
        value = 1 / seconds
        return Speed(value, kind, value >= COMFORTABLE[kind], how)
    if kind == "speech":
        if cal:
            rtf = cal["value"] * size / cal["size"]
        else:
            rtf = 0.4 * (2 / cores) * size / BASE_RTF_SIZE
        if any(g.vendor == "nvidia" for g in hardware.gpus) and fit is not None and fit.verdict == "gpu":
            rtf /= GPU_SPEEDUP
            how += f", on the GPU a guessed {GPU_SPEEDUP} times faster"
        return Speed(rtf, kind, rtf <= COMFORTABLE[kind], how)
    if cal:
        rate = cal["value"] * cal["size"] / size
    else:
        rate = 3.0 * cores * BASE_CLIP_SIZE / size
    if any(g.vendor == "nvidia" for g in hardware.gpus) and fit is not None and fit.verdict == "gpu":
        rate *= GPU_SPEEDUP
        how += f", on the GPU a guessed {GPU_SPEEDUP} times faster"
    return Speed(rate, kind, rate >= COMFORTABLE[kind], how)


def recommend(entries, hardware, kind: str = "chat", sees: bool = False):
    """The largest catalog model of ``kind`` that fits and is comfortably fast here, or None.

    Vision models only when ``sees``: for text chat their projector is download and memory unused.
    """
    from app.core.models.fit import estimate_entry_fit

    best = None
    for e in entries:
        if e.kind != kind or e.sees != sees:
            continue
        fit = estimate_entry_fit(e, hardware)
        if fit.verdict not in ("gpu", "ram", "partial") or e.size > hardware.ram_bytes * 0.35:
            continue
        if estimate(kind, e.size, hardware, fit).comfortable and (best is None or e.size > best.size):
            best = e
    return best
