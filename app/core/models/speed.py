"""How fast will a model run here? Estimates calibrated by what this machine has measured.

Chat decoding is memory-bandwidth-bound: each token reads every weight once, so
tokens/s scales with 1 / file size. The calibration is the starter model's own
measured decode speed here (recorded after a real reply); layers on a GPU read
from faster memory. Whisper's real-time factor and CLIP's images/s scale with
model size from a measured run of the same kind: a whole file transcribed or a
folder indexed on the CPU reports the model's own time through the hook that
app.core.opening gives each engine, so the GUI and the CLI both calibrate.
Without a measurement yet, a rough guess from the core count is used and said to be one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core import paths
from app.core.models.fit import LAYERS_GUESS
from app.core.saved_json import NewerFileError, read_versioned, write_versioned

log = logging.getLogger(__name__)

COMFORTABLE = {"chat": 10.0, "speech": 0.5, "images": 5.0}  # tok/s at least, RTF at most, images/s at least
UNITS = {"chat": "tokens/s", "speech": "× real time", "images": "images/s"}
# Guesses, never measured here (only CPU runs calibrate): the memory bandwidth (bytes/s) a GPU's
# layers get, and how much faster Whisper and CLIP run on an NVIDIA GPU. Speeds from them say "guessed".
GPU_BANDWIDTH = {"nvidia": 300e9, "apple": 100e9}
GPU_SPEEDUP = 10
CPU_BANDWIDTH_PER_CORE = 4e9  # a rough guess, only until this machine has measured itself
PER_TOKEN_S = 0.002  # a guess at what a token costs besides reading the weights (sampling, the graph)
BASE_RTF_SIZE = 147_882_941  # Whisper base (the starter) at RTF 0.4 on 2 cores, before a measurement
BASE_CLIP_SIZE = 605_143_920  # ViT-B-32 at about 3 images/s per core, before a measurement
# Shorter runs are mostly start-up and warm-up: they would calibrate the wrong thing.
MIN_AUDIO_S = 10.0
MIN_IMAGES = 16
MIN_REPLY_TOKENS = 8


SCHEMA_VERSION = 2  # 1: the last measurement per kind; 2: a history of them
HISTORY = 20  # measurements kept per kind (the newest)
MIN_CHAT_BYTES = 100 * 2**20  # a tinier model's speed is overhead, not weights read: it says nothing of size
HEAVY_LOAD = 2.0  # runnable tasks per core: above it, others were competing (used only if nothing else is)


@dataclass
class Speed:
    value: float
    kind: str
    comfortable: bool
    how: str
    measured: bool = False  # this very model was measured here (else: estimated)

    def text(self) -> str:
        if self.kind == "speech":
            return f"~{self.value:.2f}× real time"
        return f"~{self.value:.0f} {UNITS[self.kind]}" if self.value >= 20 else f"~{self.value:.1f} {UNITS[self.kind]}"


_paths: dict = {}


def calibration_file():
    """Where measurements are kept. Found once per home: paths.cache_dir() resolves and makes the folder,
    and a page of estimates asked for it 330 times on the GUI thread."""
    import os

    key = tuple(os.environ.get(v, "") for v in ("HEARTH_HOME", "HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"))
    if key not in _paths:
        _paths[key] = paths.cache_dir() / "speed-calibration.json"
    return _paths[key]


def _measurement(kind: str, rec) -> dict | None:
    if not (isinstance(rec, dict) and isinstance(rec.get("size"), int) and not isinstance(rec["size"], bool)
            and 0 < rec["size"] < 2**50 and isinstance(rec.get("value"), (int, float))
            and not isinstance(rec["value"], bool) and 0 < rec["value"] < 1e9):
        return None
    load = rec.get("load", 0.0)
    return {"model": str(rec.get("model", ""))[:200], "size": rec["size"], "value": float(rec["value"]),
            "quant": str(rec.get("quant", ""))[:40].upper(),
            "load": float(load) if isinstance(load, (int, float)) and not isinstance(load, bool) else 0.0}


def _usable(records: list[dict]) -> list[dict]:
    """The runs made while the machine was quiet; those made under heavy load only if there are no others."""
    quiet = [m for m in records if m["load"] <= HEAVY_LOAD]
    return quiet or records


_cache: dict = {}  # the last read, by the file's path, size and time: a Models page or a recommendation
# asks for ~100 estimates, and read on the GUI thread each read cost a parse (p99 lag 57 ms while sending)


def _read() -> tuple[dict[str, list[dict]], bool]:
    """({kind: [measurements, oldest first]}, read-only): a damaged file is set aside (app.core.saved_json),
    a newer Hearth's is read for what this one knows and never written; a damaged record counts as none.
    Callers get their own copy."""
    path = calibration_file()
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        key = (str(path), None, None, None)
    if _cache.get("key") == key and key[1] is not None:
        history, read_only = _cache["value"]
        return {k: [dict(m) for m in v] for k, v in history.items()}, read_only
    history, read_only = _parse()
    _cache.update(key=key, value=({k: [dict(m) for m in v] for k, v in history.items()}, read_only))
    return history, read_only


def _parse() -> tuple[dict[str, list[dict]], bool]:
    got = read_versioned(calibration_file(), SCHEMA_VERSION, "the speed measurements")
    data = dict(got.data or {})
    data.pop("schema_version", None)
    if "history" not in data:  # version 1: one measurement per kind
        data = {"history": {k: [v] for k, v in data.items()}}
    history = data.get("history")
    out: dict[str, list[dict]] = {}
    for kind, records in (history.items() if isinstance(history, dict) else ()):
        if kind in COMFORTABLE and isinstance(records, list):
            kept = [m for m in (_measurement(kind, r) for r in records[-HISTORY:]) if m is not None]
            if kept:
                out[kind] = kept
    return out, got.read_only


def load_history() -> dict[str, list[dict]]:
    return _read()[0]


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def load_calibration() -> dict:
    """{kind: {"model": id, "size": bytes, "value": measured}}: per kind, the model measured most
    often here (the newest on a tie) with the median of its measurements, so one odd run moves nothing."""
    out = {}
    for kind, records in load_history().items():
        records = _usable(records)
        counts: dict[str, int] = {}
        for m in records:
            counts[m["model"]] = counts.get(m["model"], 0) + 1
        model = max(reversed([m["model"] for m in records]), key=lambda name: counts[name])
        own = [m for m in records if m["model"] == model]
        out[kind] = {"model": model, "size": own[-1]["size"], "value": _median([m["value"] for m in own])}
    return out


def _load_now() -> float:
    import psutil

    try:
        return psutil.getloadavg()[0] / max(1, psutil.cpu_count() or 1)
    except (OSError, AttributeError):
        return 0.0


def record(kind: str, model_id: str, size: int, value: float, on_gpu: bool = False, quant: str = "",
           load: float | None = None) -> bool:
    """Keeps a measurement made on this machine (CPU runs only: they calibrate the CPU estimate), with
    the load it was made under (``load``: runnable tasks per core; the live figure when None): a run made
    while other work crowded the cores counts only until a quiet one exists. Not kept: a chat model under
    100 MB (its speed is per-token overhead, not size). Returns whether it was kept."""
    if kind not in COMFORTABLE or on_gpu or size <= 0 or value <= 0:
        return False
    if kind == "chat" and size < MIN_CHAT_BYTES:
        log.info("speed of %s not kept: under %d MB, it measures overhead, not size", model_id, MIN_CHAT_BYTES >> 20)
        return False
    load = _load_now() if load is None else load
    history, read_only = _read()
    if read_only:
        log.info("speed measurement of %s not kept: the file is a newer Hearth's or unreadable", model_id)
        return False
    records = history.setdefault(kind, [])
    records.append({"model": model_id, "size": int(size), "value": float(value), "quant": quant.upper(),
                    "load": round(float(load), 2)})
    history[kind] = records[-HISTORY:]
    try:
        write_versioned(calibration_file(), {"history": history}, SCHEMA_VERSION, "the speed measurements")
    except (OSError, NewerFileError) as exc:
        log.warning("could not keep the speed measurement: %s", exc)
        return False
    return True


def record_reply(model_id: str, stats, on_gpu: bool) -> None:
    """A real chat reply (a ChatStats) on the CPU: the installed model's decode speed here.
    A few tokens are mostly start-up: they would calibrate the wrong thing."""
    if (stats.completion_tokens or 0) < MIN_REPLY_TOKENS or not stats.tokens_per_second or on_gpu:
        return
    from app.core.jobs import HearthError
    from app.core.models.store import ModelStore

    try:
        entry = ModelStore().get(model_id)
    except HearthError:
        return
    if entry is not None:
        from app.core.models.catalog import find

        listed = find(entry.id)  # its quantisation: models of the same one decode at the same bandwidth
        record("chat", entry.id, entry.size, stats.tokens_per_second, quant=listed.quantization if listed else "")


def record_transcription(model_id: str, size: int, seconds: float, audio_s: float, on_gpu: bool) -> None:
    """A whole file's decode time (the model's own work: no wait for a lane, a slow reader or the
    file's decoding) over the audio's length: the real-time factor of this Whisper model here."""
    if audio_s >= MIN_AUDIO_S and seconds > 0:
        record("speech", model_id, size, seconds / audio_s, on_gpu)


def record_indexing(model_id: str, size: int, seconds: float, images: float, on_gpu: bool) -> None:
    """Pictures embedded over the seconds the model spent embedding them: images/s of this CLIP here.
    Decoding runs in a pool beside the model and costs the same whatever the model's size."""
    if images >= MIN_IMAGES and seconds > 0:
        record("images", model_id, size, images / seconds, on_gpu)


def _own(kind: str, model_id: str | None) -> list[dict]:
    """This model's own measurements here."""
    if not model_id:
        return []
    return _usable([m for m in load_history().get(kind, []) if m["model"] == model_id])


def _chat_bandwidth(quant: str) -> tuple[float, str] | None:
    """Bytes of weights read per second while decoding, from the measured chat models: those of the
    same quantisation when there are any (their kernels run at the same rate), else all of them."""
    records = _usable(load_history().get("chat", []))
    same = [m for m in records if quant and m["quant"] == quant.upper()]
    chosen = same or records
    if not chosen:
        return None
    if not same:
        return _median([m["value"] * m["size"] for m in chosen]), ""
    models = sorted({m["model"] for m in same})
    where = f"{', '.join(models[:2])}{' …' if len(models) > 2 else ''}"
    how = f"estimated from the {quant.upper()} models measured here ({where}), by file size"
    return _median([m["value"] * m["size"] for m in chosen]), how


def _cores(hardware) -> int:
    return max(1, int(getattr(hardware.cpu, "physical_cores", 0) or 1))


def basis(kind: str, hardware, cal: dict | None = None) -> str:
    """How the CPU estimates of ``kind`` are made here: from which measurement, or a guess from what."""
    cal = cal if cal is not None else load_calibration().get(kind)
    if not cal:
        cores = _cores(hardware)
        todo = {"chat": "chat once with any model", "speech": f"transcribe a file of {MIN_AUDIO_S:.0f} s or more",
                "images": f"index {MIN_IMAGES} or more pictures"}.get(kind, "use it")
        return f"a rough guess from {cores} CPU cores ({todo} to measure this machine)"
    if kind == "chat":
        return f"scaled from {cal['model']}'s measured {cal['value']:.0f} tokens/s here by file size"
    if kind == "speech":
        rtf = f"{cal['value']:.2f}" if cal["value"] >= 0.1 else f"{cal['value']:.3f}"
        return f"scaled by size from {cal['model']}'s measured {rtf}× real time here"
    rate = f"{cal['value']:.0f}" if cal["value"] >= 20 else f"{cal['value']:.1f}"
    return f"scaled by size from {cal['model']}'s measured {rate} images/s here (the model's own time)"


def estimate(kind: str, size: int, hardware, fit=None, model_id: str | None = None, quant: str = "") -> Speed:
    """Speed of a model of ``size`` here: its own median where this model was measured (on the CPU),
    else scaled by size from what was measured (chat: the memory bandwidth decoding reached, from
    models of the same quantisation first), else a guess from the core count."""
    cores = _cores(hardware)
    own = _own(kind, model_id)
    on_gpu = fit is not None and fit.verdict in ("gpu", "partial")
    if own and not (on_gpu and any(g.vendor in GPU_BANDWIDTH for g in hardware.gpus)):
        value = _median([m["value"] for m in own])
        how = f"measured here ({len(own)} run{'s' if len(own) != 1 else ''}, the median)"
        ok = value <= COMFORTABLE[kind] if kind == "speech" else value >= COMFORTABLE[kind]
        return Speed(value, kind, ok, how, measured=True)
    cal = load_calibration().get(kind)
    how = basis(kind, hardware, cal or {})
    if kind == "chat":
        bandwidth = _chat_bandwidth(quant)
        if bandwidth is not None:
            cpu_bw, same_quant = bandwidth
            how = same_quant or how
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
        value = 1 / (seconds + PER_TOKEN_S)
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


def recommend(entries, hardware, kind: str = "chat", sees: bool = False, tools: bool = False):
    """The largest catalog model of ``kind`` that fits and is comfortably fast here, or None.

    Vision models only when ``sees``: for text chat their projector is download and memory unused.
    ``tools``: only the models the catalog marks as calling tools well (Ask Hearth's pick).
    """
    from app.core.models.fit import estimate_entry_fit

    best = None
    if kind not in COMFORTABLE:  # no speed measure for this kind (embedding) yet: nothing to recommend
        return None
    for e in entries:
        if e.kind != kind or e.sees != sees or (tools and not e.tools):
            continue
        fit = estimate_entry_fit(e, hardware)
        if fit.verdict not in ("gpu", "ram", "partial") or e.size > hardware.ram_bytes * 0.35:
            continue
        if (estimate(kind, e.size, hardware, fit, e.id, e.quantization).comfortable
                and (best is None or e.size > best.size)):
            best = e
    return best
