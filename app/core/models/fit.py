"""Will a model fit? From file size, context length and the hardware report.

Estimates, not promises: weights (the file size), the KV cache for the chosen
context (f16), and a compute-buffer margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.jobs import ModelError

GB = 1024**3
RAM_USABLE = 0.85  # of total RAM; the OS and the app need the rest
GPU_USABLE = 0.9  # of VRAM; the driver and the display keep some
APPLE_WORKING_SET = 0.65  # Metal's default working-set limit on unified memory
BUFFERS = 256 * 1024**2  # compute buffers beside the weights and the cache
# A guess, where no GGUF header says: the catalog does not list layers, and 7-8B models have 32.
# A partial offload counted from it says "about" and "guessed".
LAYERS_GUESS = 32


@dataclass
class Fit:
    verdict: str  # "gpu" | "partial" | "ram" | "too_large"
    message: str
    gpu_layers: int = 0
    needed_bytes: int = 0
    layers: int = 0  # the model's layers, of which gpu_layers go to the GPU (0: not counted)


def _count(value, default: int) -> int:
    """A header number; anything else (a string, a float, a bool) is the default."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def _per_layer(value, layers: int, default: int) -> list[int]:
    """A value llama.cpp allows as one number or one per layer (OpenELM, Jamba: 0 for a layer
    with no attention), as a list of ``layers`` numbers."""
    if isinstance(value, tuple):
        items = [_count(v, default) for v in value[:layers]]
        return items + [items[-1] if items else default] * (layers - len(items))
    return [_count(value, default)] * layers


MAX_LAYERS = 4096  # the deepest real model has a few hundred; more is a corrupt (or hostile) header


def kv_cache_bytes(info, n_ctx: int) -> int:
    layers = _count(info.block_count, 0) or LAYERS_GUESS
    if layers > MAX_LAYERS:  # per-layer lists of this length would take gigabytes before llama.cpp refused it
        raise ModelError(f"the GGUF header is corrupt ({layers:,} layers)")
    heads = _per_layer(info.arch_value("attention.head_count"), layers, 0)
    top_heads = max(heads)
    kv_heads = _per_layer(info.arch_value("attention.head_count_kv"), layers, -1)
    kv_heads = [kv if kv >= 0 else (h or 8) for kv, h in zip(kv_heads, heads, strict=True)]  # unset: as head_count
    embd = _count(info.arch_value("embedding_length"), 0) or 4096
    key_len = _count(info.arch_value("attention.key_length"), 0) or (embd // top_heads if top_heads else 128)
    val_len = _count(info.arch_value("attention.value_length"), 0) or key_len
    return n_ctx * sum(kv_heads) * (key_len + val_len) * 2  # f16


def needed_bytes(file_size: int, info, n_ctx: int) -> int:
    return int(file_size + kv_cache_bytes(info, n_ctx) + 0.1 * file_size + BUFFERS)


def _total_ram() -> int:
    import psutil

    return psutil.virtual_memory().total


def check_fits_in_memory(file_size: int, info, n_ctx: int, ram_bytes: int | None = None) -> None:
    """Refuses, before loading, a model that cannot fit in this machine's memory."""
    need = needed_bytes(file_size, info, n_ctx)
    ram = ram_bytes if ram_bytes is not None else _total_ram()
    if need > ram * RAM_USABLE:
        raise ModelError(f"too large: needs {need / GB:.1f} GB, you have {ram / GB:.1f} GB of RAM")


def _gpu_memory(hardware, vendors: tuple[str, ...]) -> int | None:
    gpus = [g for g in hardware.gpus if g.vendor in vendors]
    if not gpus:
        return None
    vram = max(g.vram_bytes for g in gpus)
    return int(vram * APPLE_WORKING_SET) if gpus[0].vendor == "apple" else vram


def place(need: int, hardware, layers: int = 0, weights: int = 0, fixed: int = 0, gpu_need: int | None = None,
          vendors: tuple[str, ...] = ("nvidia", "apple"), layers_guessed: bool = False) -> Fit:
    """The one fit arithmetic: all on the GPU, else as many ``layers`` of ``weights`` as fit beside
    the ``fixed`` part (cache, buffers), else RAM, else too large."""
    vram = _gpu_memory(hardware, vendors)
    if vram is not None:
        if (need if gpu_need is None else gpu_need) <= vram * GPU_USABLE:
            return Fit("gpu", "fits on GPU", layers + 1 if layers else 0, need, layers)
        n = int((vram * GPU_USABLE - fixed) // (weights / layers)) if layers and weights else 0
        if n > 0:
            n = min(n, layers)
            said = f"about {n} of a guessed {layers} layers" if layers_guessed else f"{n} layers"
            return Fit("partial", f"partial GPU offload: {said}", n, need, layers)
    if need <= hardware.ram_bytes * RAM_USABLE:
        return Fit("ram", "fits in RAM", 0, need)
    return Fit("too_large", f"too large: needs {need / GB:.1f} GB, you have {hardware.ram_bytes / GB:.1f} GB", 0, need)


def estimate_chat_fit(file_size: int, info, n_ctx: int, hardware) -> Fit:
    """From the GGUF header: the KV cache for ``n_ctx`` stays on the GPU beside the offloaded layers."""
    layers = _count(info.block_count, 0)
    return place(needed_bytes(file_size, info, n_ctx), hardware, layers or LAYERS_GUESS, file_size,
                 kv_cache_bytes(info, n_ctx) + BUFFERS, layers_guessed=not layers)


def estimate_entry_fit(entry, hardware) -> Fit:
    """Before download, from the catalog's numbers (the GGUF header is not here yet)."""
    if entry.kind == "chat":
        # weights (model and projector), a 4k-token cache and buffers, LAYERS_GUESS layers; a vision
        # model's cache also holds pictures' tokens (a few per conversation) and its encoder a buffer.
        image_tokens = getattr(entry, "image_tokens", 0)
        cache = 0.5 * GB * (4096 + 4 * image_tokens) / 4096 + (0.25 * GB if image_tokens else 0)
        return place(int(entry.size * 1.1 + cache), hardware, LAYERS_GUESS, entry.size, int(cache),
                     layers_guessed=True)
    return place(int(entry.ram_gb * GB), hardware, gpu_need=int(entry.vram_gb * GB), vendors=("nvidia",))
