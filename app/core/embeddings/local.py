"""The text-embedding model in this process: a GGUF embedding model (BERT, nomic-bert, Qwen3-Embedding ...) through
llama-cpp-python with ``embedding=True``, pooled as the model says, vectors L2-normalised.

Texts go in batches; the cancel token is checked between batches. A text longer than the model's
context is cut to it (llama.cpp keeps its first tokens) and counted in ``last.truncated``.

The app runs it in a process of its own (app.core.embeddings.engine.Embedder), where a file that makes
llama.cpp abort ends only that process; this class is what runs there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.hardware import physical_cores
from app.core.jobs import CancelToken, ModelError
from app.core.models.gguf_header import read_gguf
from app.core.models.validate import check_embedding_gguf

log = logging.getLogger(__name__)

BATCH_TEXTS = 32  # texts per llama.cpp call: the cancel token is checked this often
MAX_CONTEXT = 2048  # tokens per text at most; long-context models are cut here to bound memory


def file_fingerprint(path: Path, edge: int = 1 << 20) -> str:
    """A short name for a model file's content: its size, header (metadata, tensor list) and last MiB of
    weights. Another file under the same id or name (a new quantization, a fine-tune) gets another one,
    without reading a model of a gigabyte whole each time it is opened."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        digest.update(str(size).encode())
        digest.update(fh.read(edge))
        if size > edge:
            fh.seek(max(edge, size - edge))
            digest.update(fh.read(edge))
    return digest.hexdigest()[:12]


@dataclass
class EmbedStats:
    """What the last ``embed`` call did."""

    texts: int = 0
    tokens: int = 0
    truncated: int = 0  # texts longer than the context, cut to it
    seconds: float = 0.0


def _pooling_override(info) -> int | None:
    """A GGUF without a pooling type (older conversions) would give a vector per token: mean them."""
    import llama_cpp

    if info.arch_value("pooling_type") is None:
        return llama_cpp.LLAMA_POOLING_TYPE_MEAN
    return None


def _gpu_layers(device: str) -> int:
    if device == "cpu":
        return 0
    from app.core.hardware import choose_device

    return -1 if choose_device("llama.cpp", device).device != "cpu" else 0


class InProcessEmbedder:
    """One loaded text-embedding model in this process. Not thread-safe: one worker owns it
    (app/ARCHITECTURE.md, Threads)."""

    def __init__(self, path: Path, model_id: str = "", n_threads: int = 0, device: str = "auto",
                 max_context: int = MAX_CONTEXT, batch_texts: int = BATCH_TEXTS):
        self.path = Path(path)
        self.model_id = model_id or self.path.stem
        self.batch_texts = max(1, batch_texts)
        self.last = EmbedStats()
        info = read_gguf(self.path)  # ModelError for a file that is not GGUF or whose header is damaged
        size = self.path.stat().st_size
        if info.data_end and size < info.data_end:
            raise ModelError(f"{self.path.name} is truncated: {size} of at least {info.data_end} bytes")
        check_embedding_gguf(info, self.path.name)
        self.fingerprint = file_fingerprint(self.path)
        self.architecture = info.architecture
        self.n_ctx = max(32, min(info.context_length or 512, max_context))
        self.n_threads = n_threads or physical_cores()
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - an install problem, said plainly
            raise ModelError(f"llama-cpp-python is not installed: {exc}") from exc
        pooling = _pooling_override(info)
        layers = _gpu_layers(device)

        def build(gpu_layers: int):
            return llama_cpp.Llama(
                str(self.path), embedding=True, n_ctx=self.n_ctx, n_batch=self.n_ctx, n_ubatch=self.n_ctx,
                n_threads=self.n_threads, n_threads_batch=self.n_threads, n_gpu_layers=gpu_layers,
                pooling_type=pooling if pooling is not None else llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED,
                verbose=False,
            )

        try:
            self.llm = build(layers)
        except (ValueError, RuntimeError, OSError) as exc:
            if layers == 0:
                raise ModelError(f"{self.path.name} could not be loaded by llama.cpp: {exc}") from exc
            log.warning("GPU load of %s failed: %s; running on the CPU", self.path, exc)
            try:
                self.llm = build(0)
            except (ValueError, RuntimeError, OSError) as exc2:
                raise ModelError(f"{self.path.name} could not be loaded by llama.cpp: {exc2}") from exc2
            layers = 0
        self.gpu_layers = layers
        self.dimensions = int(self.llm.n_embd())
        log.info("loaded embedding model %s: %d dims, ctx %d, %d threads, %s", self.path.name, self.dimensions,
                 self.n_ctx, self.n_threads, "GPU" if layers else "CPU")

    def tokens(self, text: str) -> int:
        """The tokens the model sees for ``text`` before any cut (its start and end markers included)."""
        return len(self.llm.tokenize(text.encode("utf-8", "replace"), add_bos=True, special=False))

    def embed(self, texts: list[str], cancel: CancelToken | None = None) -> np.ndarray:
        """(len(texts), dimensions) float32, each row of length 1. Cancelled between batches."""
        start = time.perf_counter()
        stats = EmbedStats(texts=len(texts))
        out = np.zeros((len(texts), self.dimensions), np.float32)
        for first in range(0, len(texts), self.batch_texts):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = [t.encode("utf-8", "replace").decode("utf-8") for t in texts[first : first + self.batch_texts]]
            for text in batch:
                n = self.tokens(text)
                stats.tokens += min(n, self.n_ctx)
                stats.truncated += n > self.n_ctx
            try:
                vectors = self.llm.embed(batch, normalize=False, truncate=True)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"{self.model_id} could not embed the text: {exc}") from exc
            out[first : first + len(batch)] = np.asarray(vectors, np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1.0)
        stats.seconds = time.perf_counter() - start
        self.last = stats
        if stats.truncated:
            log.info("%s: %d of %d texts were longer than %d tokens and were cut", self.model_id,
                     stats.truncated, len(texts), self.n_ctx)
        return out

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            llm.close()
