"""Loading a chat model: the GGUF checked and sized, then llama.cpp, as a ChatEngine or (with a projector)
a VisionChatEngine.

Apart from engine.py so that engine.py need not import vision_engine.py, which builds on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.core.chat.engine import ChatEngine, LoadOptions, _token_text, choose_gpu_layers
from app.core.chat.templates import choose_format
from app.core.hardware import physical_cores
from app.core.jobs import ModelError
from app.core.models.gguf_header import read_gguf

log = logging.getLogger(__name__)


def load_chat_model(path: Path, options: LoadOptions | None = None, model_id: str = "") -> ChatEngine:
    """Validates the GGUF, refuses what cannot fit, then loads it (GPU first, CPU on failure)."""
    options = options or LoadOptions()
    path = Path(path)
    info = read_gguf(path)  # ModelError for non-GGUF, truncated or corrupt headers
    size = path.stat().st_size
    if info.data_end and size < info.data_end:
        raise ModelError(f"{path.name} is truncated: {size} of at least {info.data_end} bytes")
    from app.core.models.fit import check_fits_in_memory

    projector = Path(options.projector) if options.projector else None
    if projector is not None:
        from app.core.models.projector import check_pair

        check_pair(path, projector)  # refused before llama.cpp sees either file
        size += projector.stat().st_size
    check_fits_in_memory(size, info, options.n_ctx)
    trained = info.context_length or options.n_ctx
    n_ctx = max(256, min(options.n_ctx, trained))
    threads = options.n_threads or physical_cores()
    layers, reason = choose_gpu_layers(info, path, options)
    notices: list[str] = []
    try:
        import llama_cpp  # noqa: F401 - said here, as a ModelError, not at the first decode
    except ImportError as exc:  # pragma: no cover - an install problem, reported plainly
        raise ModelError(f"llama-cpp-python is not installed: {exc}") from exc

    from app.core.chat.lazy_grammar import lazy_grammar_llama

    def build(gpu_layers: int):
        return lazy_grammar_llama()(  # llama_cpp.Llama, a grammar (a JSON schema's) applied lazily
            str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=gpu_layers,
            n_batch=512,
            swa_full=True,  # lets sliding-window models (Gemma 3) reuse a prompt prefix
            verbose=False,
        )

    try:
        llm = build(layers)
    except (ValueError, RuntimeError, OSError) as exc:
        if layers == 0:
            raise ModelError(f"{path.name} could not be loaded by llama.cpp: {exc}") from exc
        notices.append(f"GPU load failed ({exc}); running on the CPU instead")
        log.warning("GPU load of %s failed: %s; falling back to CPU", path, exc)
        try:
            llm = build(0)
        except (ValueError, RuntimeError, OSError) as exc2:
            raise ModelError(f"{path.name} could not be loaded by llama.cpp: {exc2}") from exc2
        layers, reason = 0, "GPU load failed"
    log.info("loaded %s: ctx %d, %d threads, %d GPU layers (%s)", path.name, n_ctx, threads, layers, reason)
    bos = _token_text(llm, llm.token_bos())
    eos = _token_text(llm, llm.token_eos())
    fmt = choose_format(info.chat_template, info.architecture, bos, eos, options.chat_format)
    if fmt.name != "template" and not options.chat_format:
        notices.append(f"the model has no chat template; using the {fmt.name} format for {info.architecture}")
    engine: ChatEngine
    if projector is not None:
        from app.core.chat.vision_engine import VisionChatEngine

        try:
            engine = VisionChatEngine(llm, path, info, fmt, model_id or path.stem, notices, projector, layers > 0)
        except BaseException:
            llm.close()
            raise
    else:
        engine = ChatEngine(llm, path, info, fmt, model_id or path.stem, notices)
    engine.gpu_layers, engine.device_reason = layers, reason
    return engine
