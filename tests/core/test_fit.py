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
