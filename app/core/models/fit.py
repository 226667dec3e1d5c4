"""Will a model fit? From file size, context length and the hardware report.

Estimates, not promises: weights (the file size), the KV cache for the chosen
context (f16), and a compute-buffer margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.jobs import ModelError

GB = 1024**3
RAM_USABLE = 0.85  # of total RAM; the OS and the app need the rest


@dataclass
class Fit:
    verdict: str  # "gpu" | "partial" | "ram" | "too_large"
    message: str
    gpu_layers: int = 0
    needed_bytes: int = 0


def kv_cache_bytes(info, n_ctx: int) -> int:
    layers = info.block_count or 32
    heads = int(info.arch_value("attention.head_count", 0) or 0)
    kv_heads = int(info.arch_value("attention.head_count_kv", heads) or heads or 0)
    embd = int(info.arch_value("embedding_length", 4096) or 4096)
    key_len = int(info.arch_value("attention.key_length", 0) or (embd // heads if heads else 128))
    val_len = int(info.arch_value("attention.value_length", key_len) or key_len)
    kv_heads = kv_heads or 8
    return layers * n_ctx * kv_heads * (key_len + val_len) * 2  # f16


def needed_bytes(file_size: int, info, n_ctx: int) -> int:
    return int(file_size + kv_cache_bytes(info, n_ctx) + 0.1 * file_size + 256 * 1024**2)


def _total_ram() -> int:
    import psutil

    return psutil.virtual_memory().total


def check_fits_in_memory(file_size: int, info, n_ctx: int, ram_bytes: int | None = None) -> None:
    """Refuses, before loading, a model that cannot fit in this machine's memory."""
    need = needed_bytes(file_size, info, n_ctx)
    ram = ram_bytes if ram_bytes is not None else _total_ram()
    if need > ram * RAM_USABLE:
        raise ModelError(f"too large: needs {need / GB:.1f} GB, you have {ram / GB:.1f} GB of RAM")


def estimate_chat_fit(file_size: int, info, n_ctx: int, report) -> Fit:
    need = needed_bytes(file_size, info, n_ctx)
    layers = info.block_count or 32
    gpus = [g for g in report.gpus if g.vendor in ("nvidia", "apple")]
    if gpus:
        vram = max(g.vram_bytes for g in gpus)
        if gpus[0].vendor == "apple":
            vram = int(vram * 0.65)  # Metal's default working-set limit on unified memory
        if need <= vram * 0.9:
            return Fit("gpu", "fits on GPU", layers + 1, need)
        per_layer = file_size / layers
        room = vram * 0.9 - kv_cache_bytes(info, n_ctx) - 256 * 1024**2
        n = int(room // per_layer) if per_layer else 0
        if n > 0:
            return Fit("partial", f"partial GPU offload: {min(n, layers)} layers", min(n, layers), need)
    if need <= report.ram_bytes * RAM_USABLE:
        return Fit("ram", "fits in RAM", 0, need)
    return Fit("too_large", f"too large: needs {need / GB:.1f} GB, you have {report.ram_bytes / GB:.1f} GB", 0, need)


def estimate_entry_fit(entry, report) -> Fit:
    """Before download, from the catalog's numbers (the GGUF header is not here yet)."""
    if entry.kind == "chat":
        need = int(entry.size * 1.1 + 0.5 * GB)  # weights, a 4k-token cache, buffers
        layers = 32
        gpus = [g for g in report.gpus if g.vendor in ("nvidia", "apple")]
        if gpus:
            vram = max(g.vram_bytes for g in gpus) * (0.65 if gpus[0].vendor == "apple" else 1.0)
            if need <= vram * 0.9:
                return Fit("gpu", "fits on GPU", layers + 1, need)
            n = int(layers * (vram * 0.9 - 0.5 * GB) / entry.size) if entry.size else 0
            if n > 0:
                return Fit("partial", f"partial GPU offload: {min(n, layers)} layers", min(n, layers), need)
    else:
        need = int(entry.ram_gb * GB)
        gpus = [g for g in report.gpus if g.vendor == "nvidia"]
        if gpus and entry.vram_gb * GB <= max(g.vram_bytes for g in gpus) * 0.9:
            return Fit("gpu", "fits on GPU", 0, need)
    if need <= report.ram_bytes * RAM_USABLE:
        return Fit("ram", "fits in RAM", 0, need)
    return Fit("too_large", f"too large: needs {need / GB:.1f} GB, you have {report.ram_bytes / GB:.1f} GB", 0, need)
