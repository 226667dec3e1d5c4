from app.core.hardware import CPUInfo, GPUInfo, HardwareReport
from app.core.models.fit import estimate_chat_fit, kv_cache_bytes
from app.core.models.gguf_header import read_gguf

GB = 1024**3


def _report(ram_gb, gpus=()):
    return HardwareReport("Linux", "6", "3.11", CPUInfo("cpu", "x86_64", 8, 16, []), ram_gb * GB, list(gpus))


def test_fit_verdicts_follow_the_hardware(gemma_path):
    info = read_gguf(gemma_path)
    size = gemma_path.stat().st_size
    assert kv_cache_bytes(info, 4096) == 18 * 4096 * 1 * (256 + 256) * 2
    assert estimate_chat_fit(size, info, 4096, _report(16)).verdict == "ram"
    gpu = GPUInfo("nvidia", "Big GPU", 24 * GB)
    fit = estimate_chat_fit(size, info, 4096, _report(16, [gpu]))
    assert fit.verdict == "gpu" and fit.gpu_layers == info.block_count + 1
    # A 7 GB model on an 6 GB card: partial offload, some layers.
    small = GPUInfo("nvidia", "Small GPU", 6 * GB)
    fit = estimate_chat_fit(7 * GB, info, 4096, _report(32, [small]))
    assert fit.verdict == "partial" and 0 < fit.gpu_layers < info.block_count
    fit = estimate_chat_fit(40 * GB, info, 4096, _report(16))
    assert fit.verdict == "too_large" and "needs" in fit.message and "you have 16.0 GB" in fit.message


def test_catalog_estimates_use_the_same_arithmetic(gemma_path):
    from types import SimpleNamespace

    from app.core.models.fit import estimate_entry_fit

    chat = SimpleNamespace(kind="chat", size=7 * GB, ram_gb=8.0, vram_gb=8.0)
    assert estimate_entry_fit(chat, _report(32)).verdict == "ram"
    assert estimate_entry_fit(chat, _report(32, [GPUInfo("nvidia", "Big", 24 * GB)])).gpu_layers == 33
    partial = estimate_entry_fit(chat, _report(32, [GPUInfo("nvidia", "Small", 6 * GB)]))
    assert partial.verdict == "partial" and partial.gpu_layers == int((6 * GB * 0.9 - 0.5 * GB) // (7 * GB / 32))
    # Apple's unified memory counts at Metal's working-set share: 8 GB of it cannot hold 8.2 GB.
    assert estimate_entry_fit(chat, _report(64, [GPUInfo("apple", "M", 8 * GB)])).verdict == "partial"
    speech = SimpleNamespace(kind="speech", size=GB, ram_gb=2.0, vram_gb=1.0)
    assert estimate_entry_fit(speech, _report(8, [GPUInfo("nvidia", "Small", 4 * GB)])).verdict == "gpu"
    assert estimate_entry_fit(speech, _report(8, [GPUInfo("apple", "M", 8 * GB)])).verdict == "ram"
    assert estimate_entry_fit(speech, _report(2)).verdict == "too_large"


def test_a_partial_offload_from_a_guessed_layer_count_says_so(gemma_path):
    """The catalog does not list layers: the count offloaded rests on a guess, and the text says so;
    a GGUF header's own count is stated plainly."""
    from types import SimpleNamespace

    from app.core.models.fit import LAYERS_GUESS, estimate_entry_fit

    small = _report(32, [GPUInfo("nvidia", "Small", 6 * GB)])
    partial = estimate_entry_fit(SimpleNamespace(kind="chat", size=7 * GB), small)
    assert partial.layers == LAYERS_GUESS
    assert partial.message == f"partial GPU offload: about {partial.gpu_layers} of a guessed {LAYERS_GUESS} layers"
    info = read_gguf(gemma_path)
    header = estimate_chat_fit(7 * GB, info, 4096, small)
    assert header.layers == info.block_count and header.message == f"partial GPU offload: {header.gpu_layers} layers"
